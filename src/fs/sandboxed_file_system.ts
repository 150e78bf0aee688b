import { encodeBase64 } from "../protocol/mod.ts";
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
import type { FileSystem, FsRequests } from "../protocol/mod.ts";
import type { FsWorker } from "./fs_worker.ts";
import type { LargeWait } from "./large_wait.ts";

/** Options of a `SandboxedFileSystem`. */
export interface SandboxedFileSystemOptions {
  /** The worker of the sandbox policy; shared by every connection of the session. */
  readonly worker: FsWorker;
  /** The connection this view serves: its handles live in the worker under this scope. */
  readonly scope: string;
  /** `--max-read-file-bytes`, sent to the worker as the effective `maxBytes`. */
  readonly maxReadFileBytes: number;
}

/**
 * A `FileSystem` served by a sandbox worker process (PROTOCOL.md §8.6): every call is one
 * pipelined request, answered with exactly the result or error the worker's `DirectFileSystem`
 * produced inside the sandbox.
 */
export class SandboxedFileSystem implements FileSystem {
  readonly #worker: FsWorker;
  readonly #scope: string;
  readonly #maxReadFileBytes: number;

  constructor(options: SandboxedFileSystemOptions) {
    this.#worker = options.worker;
    this.#scope = options.scope;
    this.#maxReadFileBytes = options.maxReadFileBytes;
  }

  /**
   * `fs/readFile` in the sandbox, with the server's size limit folded into `maxBytes`; the worker
   * sends the bytes and they are encoded here.
   */
  async readFile(request: FsRequests["fs/readFile"], signal?: AbortSignal): Promise<FsReadFileResult> {
    return { dataBase64: encodeBase64(await this.readFileBytes(request, signal)) };
  }

  /**
   * `fs/readFile` in the sandbox without the encoding: the bytes the worker sent. With `large`, the
   * worker waits for it after `large.heldBytes`, as `DirectFileSystem.readFileBytes` does.
   */
  readFileBytes(
    request: FsRequests["fs/readFile"],
    signal?: AbortSignal,
    large?: LargeWait,
  ): Promise<Uint8Array> {
    const maxBytes = Math.min(this.#maxReadFileBytes, request.maxBytes ?? Number.MAX_SAFE_INTEGER);
    return this.#worker.readFile(this.#scope, { ...request, maxBytes }, signal, large);
  }

  /** `fs/writeFile` in the sandbox. */
  writeFile(request: FsRequests["fs/writeFile"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#worker.call(this.#scope, "fs/writeFile", request, signal);
  }

  /** `fs/createDirectory` in the sandbox. */
  createDirectory(request: FsRequests["fs/createDirectory"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#worker.call(this.#scope, "fs/createDirectory", request, signal);
  }

  /** `fs/getMetadata` in the sandbox. */
  getMetadata(request: FsRequests["fs/getMetadata"], signal?: AbortSignal): Promise<FsGetMetadataResult> {
    return this.#worker.call(this.#scope, "fs/getMetadata", request, signal);
  }

  /** `fs/canonicalize` in the sandbox. */
  canonicalize(request: FsRequests["fs/canonicalize"], signal?: AbortSignal): Promise<FsCanonicalizeResult> {
    return this.#worker.call(this.#scope, "fs/canonicalize", request, signal);
  }

  /** `fs/readDirectory` in the sandbox; with `maxReplyBytes`, a reply limit below the worker's. */
  readDirectory(
    request: FsRequests["fs/readDirectory"],
    signal?: AbortSignal,
    maxReplyBytes?: number,
  ): Promise<FsReadDirectoryResult> {
    return this.#worker.call(this.#scope, "fs/readDirectory", request, signal, maxReplyBytes);
  }

  /** `fs/walk` in the sandbox; with `maxReplyBytes`, a reply limit below the worker's. */
  walk(request: FsRequests["fs/walk"], signal?: AbortSignal, maxReplyBytes?: number): Promise<FsWalkResult> {
    return this.#worker.call(this.#scope, "fs/walk", request, signal, maxReplyBytes);
  }

  /** `fs/remove` in the sandbox. */
  remove(request: FsRequests["fs/remove"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#worker.call(this.#scope, "fs/remove", request, signal);
  }

  /** `fs/copy` in the sandbox. */
  copy(request: FsRequests["fs/copy"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#worker.call(this.#scope, "fs/copy", request, signal);
  }

  /** `fs/open` in the sandbox: the handle lives in the worker. */
  open(request: FsRequests["fs/open"], signal?: AbortSignal): Promise<FsOpenResult> {
    return this.#worker.call(this.#scope, "fs/open", request, signal);
  }

  /** `fs/readBlock` on a worker handle. */
  readBlock(request: FsRequests["fs/readBlock"], signal?: AbortSignal): Promise<FsReadBlockResult> {
    return this.#worker.call(this.#scope, "fs/readBlock", request, signal);
  }

  /** `fs/writeBlock` on a worker handle. */
  writeBlock(request: FsRequests["fs/writeBlock"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#worker.call(this.#scope, "fs/writeBlock", request, signal);
  }

  /** `fs/close` of a worker handle. */
  close(request: FsRequests["fs/close"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#worker.call(this.#scope, "fs/close", request, signal);
  }

  /** Closes this view's handles in the worker. */
  closeAll(): Promise<void> {
    return this.#worker.closeScope(this.#scope);
  }
}
