import { constants } from "node:fs";
import * as fs from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { ErrorCode, RpcError } from "../protocol/mod.ts";
import { errnoError, errnoOf } from "./error_map.ts";
import { isWithin, joinPath, listDirectory, parentPath } from "./list_directory.ts";
import { holdDirectory } from "./held_directory.ts";
import { O_NOBLOCK_NOCTTY, openRegularStat } from "./open_regular.ts";
import { copyContents } from "./copy_contents.ts";
import type { FileRanges } from "../runtime/mod.ts";

/** Permission bits copied with a file; set-id and sticky bits are not handed to the copy. */
const PERMISSION_BITS = 0o777;
/**
 * The deepest tree copied: as deep as a path of one-letter names within PATH_MAX, where a copy by
 * paths stopped. Each level holds two descriptors (its source and destination directories).
 */
export const MAX_TREE_DEPTH = 2048;

function copyRule(message: string): RpcError {
  return new RpcError(ErrorCode.InvalidRequest, "InvalidInput", message);
}

/**
 * `fs/copy` (PROTOCOL.md §7.11): a file's bytes and permission bits, a symlink as a symlink, a
 * directory recursively (merging, specials skipped); everything else is refused before any change.
 */
export async function copyPath(
  source: string,
  destination: string,
  options: { recursive: boolean; signal?: AbortSignal | undefined; ranges?: FileRanges | null },
): Promise<void> {
  const how: HowToCopy = { signal: options.signal, ranges: options.ranges ?? null };
  const stat = await fs.lstat(source);
  if (stat.isSymbolicLink()) return await copySymlink(source, destination, false);
  if (stat.isFile()) return await copyFile(source, destination, false, how);
  if (!stat.isDirectory()) throw copyRule("fs/copy only supports regular files, directories, and symlinks");
  if (!options.recursive) throw copyRule("fs/copy requires recursive: true when sourcePath is a directory");
  const canonicalSource = await fs.realpath(source);
  if (isWithin(await canonicalDestination(destination), canonicalSource)) {
    throw copyRule("fs/copy cannot copy a directory to itself or one of its descendants");
  }
  await using held = await holdDirectory(source, true);
  await copyTree(held.path, destination, false, how, 1);
}

/** What every file of one copy shares: its cancellation, and the kernel's calls where there are any. */
interface HowToCopy {
  readonly signal: AbortSignal | undefined;
  readonly ranges: FileRanges | null;
}

/** The canonical form of a destination that may not exist yet; its parent must exist. */
async function canonicalDestination(destination: string): Promise<string> {
  try {
    return await fs.realpath(destination);
  } catch (error) {
    if (errnoOf(error) !== "ENOENT" || destination === "/") throw error;
  }
  const name = destination.slice(destination.lastIndexOf("/") + 1);
  return joinPath(await fs.realpath(parentPath(destination)), name);
}

/**
 * Copies the entries of the held directory at `source` into `destination`; `nested` is false for
 * the destination the request names (which may be a link to a directory, as for every method that
 * follows links at `path`), true for those below it, where a link is never followed.
 */
async function copyTree(
  source: string,
  destination: string,
  nested: boolean,
  how: HowToCopy,
  depth: number,
): Promise<void> {
  how.signal?.throwIfAborted();
  if (depth > MAX_TREE_DEPTH) throw errnoError("ENAMETOOLONG");
  try {
    await fs.mkdir(destination);
  } catch (error) {
    if (errnoOf(error) !== "EEXIST") throw error;
    const existing = await (nested ? fs.lstat(destination) : fs.stat(destination)).catch(() => null);
    if (existing?.isSymbolicLink()) {
      // A link where the source has a directory is replaced, as a link where it has a file is.
      await fs.unlink(destination);
      await fs.mkdir(destination);
    } else if (existing === null || !existing.isDirectory()) throw error;
  }
  await using target = await holdDirectory(destination, nested);
  const entries = await listDirectory(source, (entry) => entry);
  const directories: string[] = [];
  // Files and links first, a few at once; FIFOs, sockets and devices are skipped (PROTOCOL.md §7.11).
  await eachAtOnce(entries, (entry) => {
    how.signal?.throwIfAborted();
    const from = joinPath(source, entry.name);
    const to = joinPath(target.path, entry.name);
    if (entry.type === "file") return copyFile(from, to, true, how);
    if (entry.type === "symlink") return copySymlink(from, to, true);
    if (entry.type === "directory") directories.push(entry.name);
    return null;
  });
  for (const name of directories) {
    how.signal?.throwIfAborted();
    // Held without following: a directory exchanged with a link since the listing is refused.
    await using held = await holdDirectory(joinPath(source, name), true);
    await copyTree(held.path, joinPath(target.path, name), true, how, depth + 1);
  }
}

/**
 * Files of one directory copied at once: each is a dozen calls through the runtime's thread pool,
 * and one at a time the copy mostly waited for their round trips (Deno's CPU was a third of its
 * time). Bounds the descriptors held too: three a file.
 */
const FILES_AT_ONCE = 8;

/**
 * Runs `start` for each item, at most `FILES_AT_ONCE` of its promises (null: nothing to wait for)
 * at a time, in order. After a failure nothing more starts; the first failure is thrown once
 * everything started has settled, so nothing of the copy goes on after its answer.
 */
async function eachAtOnce<T>(items: readonly T[], start: (item: T) => Promise<void> | null): Promise<void> {
  let next = 0;
  let failure: { readonly error: unknown } | null = null;
  const lane = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const item = items[next++] as T;
      try {
        await start(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FILES_AT_ONCE, items.length) }, lane));
  if (failure !== null) throw (failure as { readonly error: unknown }).error;
}

/**
 * Copies the file at `source`, never through a link: the caller saw a file there, and a link
 * swapped in since would lead the copy to what it names. Inside a tree (`nested`), a link at
 * `destination` is replaced rather than written through.
 */
async function copyFile(source: string, destination: string, nested: boolean, how: HowToCopy): Promise<void> {
  const { handle: input, stat } = await openRegularStat(source, constants.O_RDONLY, { noFollow: true });
  try {
    const mode = Number(stat.mode) & PERMISSION_BITS;
    const opened = await openDestination(destination, nested, mode, stat);
    if (opened === null) return;
    const { output, emptied } = opened;
    try {
      await copyContents(input, output, { size: Number(stat.size), ...how });
      await output.chmod(mode);
      if (emptied && stat.size >= WRITEBACK_MIN_BYTES) await how.ranges?.startWriteback?.(output.fd);
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/**
 * The smallest copy onto an emptied file whose writeback is started before its close
 * (`FileRanges.startWriteback`): below it the close's own writeback is short.
 */
const WRITEBACK_MIN_BYTES = 1 << 20;

/**
 * The destination of a file's copy, empty; null where it is the source itself (or a hard link to
 * it). A new file is created exclusively, which no link at its name leads astray (the usual case in
 * a tree: three calls fewer a file); an existing one is opened as `openExisting` says, and
 * `emptied`: truncated, which ext4 answers with a writeback at the close.
 */
async function openDestination(
  destination: string,
  nested: boolean,
  mode: number,
  source: { readonly dev: number | bigint; readonly ino: number | bigint },
): Promise<{ output: FileHandle; emptied: boolean } | null> {
  try {
    const output = await fs.open(
      destination,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOBLOCK_NOCTTY,
      mode,
    );
    return { output, emptied: false };
  } catch (error) {
    if (errnoOf(error) !== "EEXIST") throw error;
  }
  const output = await openExisting(destination, nested, mode, source);
  return output === null ? null : { output, emptied: true };
}

/**
 * An existing destination, emptied; inside a tree (`nested`) a link there is replaced rather than
 * written through.
 */
async function openExisting(
  destination: string,
  nested: boolean,
  mode: number,
  source: { readonly dev: number | bigint; readonly ino: number | bigint },
): Promise<FileHandle | null> {
  if (nested) await unlinkSymlink(destination);
  // No O_TRUNC at open: the destination may be the source itself (or a hard link to it), and
  // truncating first would destroy the bytes to copy.
  const output = await fs.open(
    destination,
    constants.O_WRONLY | constants.O_CREAT | O_NOBLOCK_NOCTTY | (nested ? constants.O_NOFOLLOW : 0),
    mode,
  );
  try {
    const target = await output.stat();
    if (target.dev === source.dev && target.ino === source.ino) {
      await output.close();
      return null;
    }
    await output.truncate(0);
    return output;
  } catch (error) {
    await output.close();
    throw error;
  }
}

async function unlinkSymlink(path: string): Promise<void> {
  const existing = await fs.lstat(path).catch(() => null);
  if (existing?.isSymbolicLink()) await fs.unlink(path);
}

async function copySymlink(source: string, destination: string, replace: boolean): Promise<void> {
  const target = await fs.readlink(source);
  try {
    await fs.symlink(target, destination);
  } catch (error) {
    if (!replace || errnoOf(error) !== "EEXIST") throw error;
    const existing = await fs.lstat(destination);
    if (existing.isDirectory()) throw error;
    await fs.unlink(destination);
    await fs.symlink(target, destination);
  }
}
