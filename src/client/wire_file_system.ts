import type { FileSystem, FsRequests } from "../protocol/mod.ts";
import type {
  FsCanonicalizeResult,
  FsEmptyResult,
  FsGetMetadataResult,
  FsMethod,
  FsOpenResult,
  FsReadBlockResult,
  FsReadDirectoryResult,
  FsReadFileResult,
  FsWalkResult,
  Sandbox,
} from "../protocol/mod.ts";
import type { CallOptions, CallParams, CallResult } from "./exec_backend.ts";

/** Sends one fs method: over the wire, or to this process's own fs side. */
export type FsCall = <M extends FsMethod>(
  method: M,
  params: CallParams<M>,
  options?: CallOptions,
) => Promise<CallResult<M>>;

/**
 * The `FileSystem` interface (PROTOCOL.md §7) as fs method calls, every request with the view's
 * `sandbox`. Paths go as given (absolute paths or `file://` URIs of the executor, never checked
 * here), so Local and Remote parse them, and refuse them, in the same place. Handles opened
 * through the view are closed by `closeAll`.
 */
export class WireFileSystem implements FileSystem {
  readonly #call: FsCall;
  readonly #sandbox: Sandbox | null;
  readonly #handles = new Set<string>();

  constructor(call: FsCall, sandbox: Sandbox | null) {
    this.#call = call;
    this.#sandbox = sandbox;
  }

  /** `fs/readFile` (§7.3). */
  readFile(request: FsRequests["fs/readFile"], signal?: AbortSignal): Promise<FsReadFileResult> {
    return this.#call("fs/readFile", { ...request, sandbox: this.#sandbox }, options(signal));
  }

  /** `fs/writeFile` (§7.4). */
  writeFile(request: FsRequests["fs/writeFile"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#call("fs/writeFile", { ...request, sandbox: this.#sandbox }, options(signal));
  }

  /** `fs/createDirectory` (§7.5). */
  createDirectory(request: FsRequests["fs/createDirectory"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#call("fs/createDirectory", { ...request, sandbox: this.#sandbox }, options(signal));
  }

  /** `fs/getMetadata` (§7.6). */
  getMetadata(request: FsRequests["fs/getMetadata"], signal?: AbortSignal): Promise<FsGetMetadataResult> {
    return this.#call("fs/getMetadata", { ...request, sandbox: this.#sandbox }, options(signal));
  }

  /** `fs/canonicalize` (§7.7). */
  canonicalize(request: FsRequests["fs/canonicalize"], signal?: AbortSignal): Promise<FsCanonicalizeResult> {
    return this.#call("fs/canonicalize", { ...request, sandbox: this.#sandbox }, options(signal));
  }

  /** `fs/readDirectory` (§7.8). */
  readDirectory(
    request: FsRequests["fs/readDirectory"],
    signal?: AbortSignal,
  ): Promise<FsReadDirectoryResult> {
    return this.#call("fs/readDirectory", { ...request, sandbox: this.#sandbox }, options(signal));
  }

  /** `fs/walk` (§7.9). */
  walk(request: FsRequests["fs/walk"], signal?: AbortSignal): Promise<FsWalkResult> {
    return this.#call("fs/walk", { ...request, sandbox: this.#sandbox }, options(signal));
  }

  /** `fs/remove` (§7.10): mind that `recursive` and `force` default to true. */
  remove(request: FsRequests["fs/remove"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#call("fs/remove", { ...request, sandbox: this.#sandbox }, options(signal));
  }

  /** `fs/copy` (§7.11). */
  copy(request: FsRequests["fs/copy"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#call("fs/copy", { ...request, sandbox: this.#sandbox }, options(signal));
  }

  /** `fs/open` (§7.13); the handle is closed by `closeAll` if not before. */
  async open(request: FsRequests["fs/open"], signal?: AbortSignal): Promise<FsOpenResult> {
    const result = await this.#call("fs/open", { ...request, sandbox: this.#sandbox }, options(signal));
    this.#handles.add(request.handleId);
    return result;
  }

  /** `fs/readBlock`. */
  readBlock(request: FsRequests["fs/readBlock"], signal?: AbortSignal): Promise<FsReadBlockResult> {
    return this.#call("fs/readBlock", request, options(signal));
  }

  /** `fs/writeBlock`. */
  writeBlock(request: FsRequests["fs/writeBlock"], signal?: AbortSignal): Promise<FsEmptyResult> {
    return this.#call("fs/writeBlock", request, options(signal));
  }

  /** `fs/close`. */
  async close(request: FsRequests["fs/close"], signal?: AbortSignal): Promise<FsEmptyResult> {
    const result = await this.#call("fs/close", request, options(signal));
    this.#handles.delete(request.handleId);
    return result;
  }

  /** Closes the handles opened through this view. */
  async closeAll(): Promise<void> {
    const handles = [...this.#handles];
    this.#handles.clear();
    await Promise.all(handles.map((handleId) => this.#call("fs/close", { handleId }).catch(() => ({}))));
  }
}

function options(signal: AbortSignal | undefined): CallOptions {
  return signal === undefined ? {} : { signal };
}
