import { Buffer } from "node:buffer";
import { constants } from "node:fs";
import type { Stats } from "node:fs";
import * as fs from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { decodeBase64, encodeBase64, ErrorCode, pathToUri, RpcError } from "../protocol/mod.ts";
import type {
  FsCanonicalizeResult,
  FsEmptyResult,
  FsGetMetadataResult,
  FsOpenResult,
  FsReadBlockResult,
  FsReadDirectoryResult,
  FsReadFileResult,
  FsWalkResult,
} from "../protocol/mod.ts";
import { copyPath, MAX_TREE_DEPTH } from "./copy.ts";
import { errnoError, errnoOf, toFsError } from "./error_map.ts";
import { FileHandleTable, MAX_BLOCK_BYTES } from "./file_handle_table.ts";
import type { FileSystem, FsRequests } from "../protocol/mod.ts";
import type { FileRanges, RootMountStat } from "../runtime/mod.ts";
import { parentPath } from "./list_directory.ts";
import { notAFile, O_NOBLOCK_NOCTTY, openRegular, statThroughOpen } from "./open_regular.ts";
import { readDirectory } from "./read_directory.ts";
import { removeTreeContents } from "./remove_tree.ts";
import { walkTree } from "./walk.ts";
import type { LargeWait } from "./large_wait.ts";

/** The `--max-read-file-bytes` default (PROTOCOL.md §2.8). */
export const DEFAULT_MAX_READ_FILE_BYTES = 134_217_728;

/** Options of a `DirectFileSystem`. */
export interface DirectFileSystemOptions {
  /** `--max-read-file-bytes`: larger files are refused by `fs/readFile`. */
  readonly maxReadFileBytes: number;
  /**
   * `--max-reply-bytes`: `fs/readDirectory` and `fs/walk` stop reading, -32001, once their result
   * would pass it (PROTOCOL.md §2.8). No limit when absent.
   */
  readonly maxReplyBytes?: number;
  /**
   * Listings stop with `LargeListing` at a directory larger than this on disk, before they read
   * its names: set for a listing made without a slot among the server's large replies.
   */
  readonly maxDirectoryBytes?: number;
  /**
   * Set inside the sandbox worker: `getMetadata` opens the path so the kernel's access rules decide
   * what is visible (PROTOCOL.md §7.6), instead of a plain `stat` that Landlock does not govern.
   */
  readonly confined?: boolean;
  /**
   * A synchronous `lstat` for paths on a local root mount (the server's own; never inside the
   * worker): `getMetadata` answers from it without the thread pool where it can.
   */
  readonly rootMountStat?: RootMountStat | null;
  /**
   * The kernel's calls that find a file's runs of data and copy them (`openFileRanges`; the
   * server's own where its runtime runs them off its thread): `fs/copy` keeps holes without them
   * too, by reading.
   */
  readonly fileRanges?: FileRanges | null;
}

const FIRST_READ_BYTES = 64 * 1024;

/**
 * A read buffer without its zero fill: the read writes the bytes that are returned, and only a view
 * of them leaves (`readFileBytes`), so what the rest held before is never seen. Bun zero-fills a
 * `new Uint8Array` of 64 MiB in reused memory, up to 55–77 ms on this VM, as long as the read
 * itself; Deno's memory comes zeroed from the kernel either way (docs/performance.md).
 */
function unfilledBytes(length: number): Uint8Array {
  const { buffer, byteOffset, byteLength } = Buffer.allocUnsafeSlow(length);
  return new Uint8Array(buffer, byteOffset, byteLength);
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | O_NOBLOCK_NOCTTY;
const FILE_MODE = 0o666;

/** One open handle of `fs/open`. */
interface OpenFile {
  readonly handle: FileHandle;
}

function invalidInput(message: string): RpcError {
  return new RpcError(ErrorCode.InvalidRequest, "InvalidInput", message);
}

/** How the refusal of a file over the read limit begins (§7.3). */
export const FILE_TOO_LARGE = "file is too large to read";

function tooLarge(limit: number): RpcError {
  return invalidInput(`${FILE_TOO_LARGE}: limit is ${limit} bytes`);
}

/** The bytes of `text`, or the error `refuse` makes of the problem when it is not valid base64. */
function decodeOr(text: string, refuse: (problem: string) => RpcError): Uint8Array {
  try {
    return decodeBase64(text);
  } catch (error) {
    throw refuse(error instanceof Error ? error.message : String(error));
  }
}

function milliseconds(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.trunc(value) : 0;
}

/** The fs methods of PROTOCOL.md §7 run in this process with `node:fs/promises` (Bun and Deno). */
export class DirectFileSystem implements FileSystem {
  readonly #maxReadFileBytes: number;
  readonly #maxReplyBytes: number;
  readonly #maxDirectoryBytes: number | undefined;
  readonly #confined: boolean;
  readonly #rootMountStat: RootMountStat | null;
  readonly #fileRanges: FileRanges | null;
  readonly #handles = new FileHandleTable<OpenFile>();

  constructor(options: DirectFileSystemOptions) {
    this.#maxReadFileBytes = options.maxReadFileBytes;
    this.#maxReplyBytes = options.maxReplyBytes ?? Number.POSITIVE_INFINITY;
    this.#maxDirectoryBytes = options.maxDirectoryBytes;
    this.#confined = options.confined ?? false;
    this.#rootMountStat = this.#confined ? null : options.rootMountStat ?? null;
    this.#fileRanges = options.fileRanges ?? null;
  }

  /** `fs/readFile`: the whole regular file, within the size limits. */
  async readFile(request: FsRequests["fs/readFile"]): Promise<FsReadFileResult> {
    return { dataBase64: encodeBase64(await this.readFileBytes(request)) };
  }

  /**
   * `fs/readFile` without the encoding: the file's bytes, with the same checks and errors. With
   * `headroom`, the bytes sit that far into their buffer and what is before them is free, so a
   * binary frame's header can be written in place instead of copying the file (§11.12). With
   * `large`, the read holds at most `large.heldBytes` (and one byte to see the end) until
   * `large.wait()` resolves, and then reads on from where it was.
   */
  readFileBytes(request: FsRequests["fs/readFile"], headroom = 0, large?: LargeWait): Promise<Uint8Array> {
    return mapErrors(async () => {
      const limit = Math.min(this.#maxReadFileBytes, request.maxBytes ?? Number.POSITIVE_INFINITY);
      const handle = await openRegular(request.path, constants.O_RDONLY);
      let waited = large === undefined;
      const wait = async (): Promise<void> => {
        waited = true;
        await large?.wait();
      };
      /** `room`, or less while the read has not waited and `room` would hold more than it may. */
      const roomFor = async (room: number, length: number): Promise<number> => {
        if (waited || large === undefined || room <= large.heldBytes + 1) return room;
        // Up to the bound first: a file that ends there needs no wait.
        if (length < large.heldBytes + 1) return large.heldBytes + 1;
        await wait();
        return room;
      };
      try {
        const size = Number((await handle.stat()).size);
        if (size > limit) throw tooLarge(limit);
        // Read to end of file rather than trusting `size`: the file may grow, and /proc files report 0.
        // A file whose size says it is large waits before it is read at all.
        if (large !== undefined && size > large.heldBytes) await wait();
        let room = size > 0 ? size + 1 : Math.min(FIRST_READ_BYTES, limit + 1);
        let buffer = unfilledBytes(headroom + room);
        let length = 0;
        for (;;) {
          if (length === room) {
            if (length > limit) throw tooLarge(limit);
            room = await roomFor(Math.min(Math.max(length * 2, FIRST_READ_BYTES), limit + 1), length);
            const grown = unfilledBytes(headroom + room);
            grown.set(buffer);
            buffer = grown;
          }
          const { bytesRead } = await handle.read(buffer, headroom + length, room - length, null);
          if (bytesRead === 0) break;
          length += bytesRead;
        }
        if (length > limit) throw tooLarge(limit);
        return buffer.subarray(headroom, headroom + length);
      } finally {
        await handle.close();
      }
    });
  }

  /** `fs/writeFile`: creates or truncates in place (same inode); never creates parents. */
  writeFile(request: FsRequests["fs/writeFile"]): Promise<FsEmptyResult> {
    return mapErrors(async () => {
      const data = decodeOr(
        request.dataBase64,
        (problem) => invalidInput(`fs/writeFile requires valid base64 dataBase64: ${problem}`),
      );
      const handle = await fs.open(request.path, WRITE_FLAGS, FILE_MODE);
      try {
        await writeAll(handle, data, null);
      } finally {
        await handle.close();
      }
      return {};
    });
  }

  /** `fs/createDirectory`: `mkdir -p` unless `recursive` is false. */
  createDirectory(request: FsRequests["fs/createDirectory"]): Promise<FsEmptyResult> {
    return mapErrors(async () => {
      if (request.recursive ?? true) await makeDirectories(request.path);
      else await fs.mkdir(request.path);
      return {};
    });
  }

  /** `fs/getMetadata`: type and size of the target, `isSymlink` of the path itself. */
  getMetadata(request: FsRequests["fs/getMetadata"]): Promise<FsGetMetadataResult> {
    // A symlink, an error other than these two or another mount is left to the asynchronous path below.
    const facts = this.#rootMountStat?.lstat(request.path) ?? null;
    if (facts === "ENOENT" || facts === "ENOTDIR") return Promise.reject(errnoError(facts));
    if (facts !== null) {
      return Promise.resolve({
        isDirectory: facts.isDirectory,
        isFile: facts.isFile,
        isSymlink: false,
        size: facts.size,
        createdAtMs: milliseconds(facts.birthtimeMs),
        modifiedAtMs: milliseconds(facts.mtimeMs),
      });
    }
    return mapErrors(async () => {
      const link = await fs.lstat(request.path);
      const isSymlink = link.isSymbolicLink();
      let stat: Stats = link;
      if (this.#confined) stat = await statThroughOpen(request.path);
      else if (isSymlink) stat = await fs.stat(request.path);
      return {
        isDirectory: stat.isDirectory(),
        isFile: stat.isFile(),
        isSymlink,
        size: Number(stat.size),
        createdAtMs: milliseconds(Number(stat.birthtimeMs)),
        modifiedAtMs: milliseconds(Number(stat.mtimeMs)),
      };
    });
  }

  /** `fs/canonicalize`: the kernel's `realpath`. */
  canonicalize(request: FsRequests["fs/canonicalize"]): Promise<FsCanonicalizeResult> {
    return mapErrors(async () => ({ path: pathToUri(await fs.realpath(request.path)) }));
  }

  /** `fs/readDirectory`: sorted entries with their targets' types; dangling links left out. */
  readDirectory(request: FsRequests["fs/readDirectory"]): Promise<FsReadDirectoryResult> {
    return mapErrors(() => readDirectory(request.path, this.#maxReplyBytes, this.#maxDirectoryBytes));
  }

  /** `fs/walk`: breadth-first listing within the given limits. */
  walk(request: FsRequests["fs/walk"], signal?: AbortSignal): Promise<FsWalkResult> {
    return mapErrors(() =>
      walkTree(request.path, request.options, {
        signal,
        maxReplyBytes: this.#maxReplyBytes,
        maxDirectoryBytes: this.#maxDirectoryBytes,
      })
    );
  }

  /** `fs/remove`: `rm -rf` by default; a symlink is removed itself; `/` is refused. */
  remove(request: FsRequests["fs/remove"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return mapErrors(async () => {
      const recursive = request.recursive ?? true;
      const force = request.force ?? true;
      if (request.path === "/") throw refuseRoot();
      let stat: Stats;
      try {
        stat = await fs.lstat(request.path);
      } catch (error) {
        if (force && errnoOf(error) === "ENOENT") return {};
        throw error;
      }
      try {
        if (!stat.isDirectory()) await fs.unlink(request.path);
        else if (await fs.realpath(request.path) === "/") throw refuseRoot();
        else if (recursive) {
          // Ours, not the runtime's: see `removeTreeContents`. Confined, each call's access
          // check walks up the tree (Landlock), so a remove slows with the square of the depth
          // (3,000 levels took 4.5 s, 12,000 took 90 s): it goes as deep as a copy does.
          await removeTreeContents(request.path, {
            signal,
            maxDepth: this.#confined ? MAX_TREE_DEPTH : Number.POSITIVE_INFINITY,
          });
          await fs.rmdir(request.path);
        } else await fs.rmdir(request.path);
      } catch (error) {
        if (force && errnoOf(error) === "ENOENT") return {};
        throw error;
      }
      return {};
    });
  }

  /** `fs/copy`: see `copyPath`. */
  copy(request: FsRequests["fs/copy"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return mapErrors(async () => {
      await copyPath(request.sourcePath, request.destinationPath, {
        recursive: request.recursive,
        signal,
        ranges: this.#fileRanges,
      });
      return {};
    });
  }

  /** `fs/open`: a read handle on an existing regular file, or a replace handle (created or truncated now). */
  open(request: FsRequests["fs/open"]): Promise<FsOpenResult> {
    return mapErrors(async () => {
      const mode = request.mode ?? "read";
      await this.#handles.open(request.handleId, async () => ({
        handle: mode === "read"
          ? await openRegular(request.path, constants.O_RDONLY)
          : await openForReplace(request.path),
      }));
      return { handleId: request.handleId };
    });
  }

  /** `fs/readBlock`: up to `len` bytes at `offset`. */
  readBlock(request: FsRequests["fs/readBlock"]): Promise<FsReadBlockResult> {
    return mapErrors(async () => {
      if (request.len < 1 || request.len > MAX_BLOCK_BYTES) {
        throw invalidInput(`file read block length must be between 1 and ${MAX_BLOCK_BYTES}`);
      }
      return await this.#handles.use(request.handleId, async ({ handle }) => {
        const buffer = new Uint8Array(request.len);
        let length = 0;
        while (length < buffer.length) {
          const { bytesRead } = await handle.read(
            buffer,
            length,
            buffer.length - length,
            request.offset + length,
          );
          if (bytesRead === 0) break;
          length += bytesRead;
        }
        const size = Number((await handle.stat()).size);
        return { chunk: encodeBase64(buffer.subarray(0, length)), eof: request.offset + length >= size };
      });
    });
  }

  /** `fs/writeBlock`: writes the chunk at `offset` (a gap is zero-filled). */
  writeBlock(request: FsRequests["fs/writeBlock"]): Promise<FsEmptyResult> {
    return mapErrors(async () => {
      const data = decodeOr(
        request.chunk,
        (problem) =>
          new RpcError(ErrorCode.InvalidParams, "InvalidParams", `invalid base64 in chunk: ${problem}`),
      );
      if (data.length < 1 || data.length > MAX_BLOCK_BYTES) {
        throw invalidInput(`file write block length must be between 1 and ${MAX_BLOCK_BYTES}`);
      }
      await this.#handles.use(request.handleId, ({ handle }) => writeAll(handle, data, request.offset));
      return {};
    });
  }

  /** `fs/close`: idempotent. */
  close(request: FsRequests["fs/close"]): Promise<FsEmptyResult> {
    return mapErrors(async () => {
      const open = await this.#handles.remove(request.handleId);
      if (open !== undefined) await open.handle.close();
      return {};
    });
  }

  /** Closes every handle (the connection ended). */
  async closeAll(): Promise<void> {
    const open = await this.#handles.removeAll();
    await Promise.allSettled(open.map((file) => file.handle.close()));
  }

  /** Number of open handles. */
  get openHandles(): number {
    return this.#handles.size;
  }
}

function refuseRoot(): RpcError {
  return invalidInput("refusing to remove the root directory");
}

async function mapErrors<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toFsError(error);
  }
}

/** Writes all of `data` at `position` (null: the current position). */
async function writeAll(handle: FileHandle, data: Uint8Array, position: number | null): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const at = position === null ? null : position + written;
    const result = await handle.write(data, written, data.length - written, at);
    written += result.bytesWritten;
  }
}

/** Opens a `replace` handle: truncates an existing regular file, creates a missing one. */
async function openForReplace(path: string): Promise<FileHandle> {
  try {
    return await openRegular(path, constants.O_WRONLY | constants.O_TRUNC);
  } catch (error) {
    if (errnoOf(error) !== "ENOENT") throw error;
  }
  // Missing (or a dangling symlink, which O_CREAT follows): create it, then make sure a racing
  // non-file did not take the name.
  const handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | O_NOBLOCK_NOCTTY, FILE_MODE);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw notAFile(path);
    await handle.truncate(0);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** `mkdir -p`: an existing directory (or symlink to one) is fine, anything else at a component is not. */
async function makeDirectories(path: string): Promise<void> {
  try {
    await fs.mkdir(path);
    return;
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === "EEXIST") return await requireDirectory(path, error);
    if (errno !== "ENOENT" || path === "/") throw error;
  }
  await makeDirectories(parentPath(path));
  try {
    await fs.mkdir(path);
  } catch (error) {
    if (errnoOf(error) !== "EEXIST") throw error;
    await requireDirectory(path, error);
  }
}

async function requireDirectory(path: string, error: unknown): Promise<void> {
  const stat = await fs.stat(path).catch(() => null);
  if (stat === null || !stat.isDirectory()) throw error;
}
