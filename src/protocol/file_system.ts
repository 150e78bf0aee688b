/** The fs method family as an interface: what a file system view serves, local or remote. */
import type {
  FsCanonicalizeParams,
  FsCanonicalizeResult,
  FsCloseParams,
  FsCopyParams,
  FsCreateDirectoryParams,
  FsEmptyResult,
  FsGetMetadataParams,
  FsGetMetadataResult,
  FsOpenParams,
  FsOpenResult,
  FsReadBlockParams,
  FsReadBlockResult,
  FsReadDirectoryParams,
  FsReadDirectoryResult,
  FsReadFileParams,
  FsReadFileResult,
  FsRemoveParams,
  FsWalkParams,
  FsWalkResult,
  FsWriteBlockParams,
  FsWriteFileParams,
} from "./fs.ts";

/**
 * The params of each fs method as a `FileSystem` takes them: the wire params without `sandbox`,
 * with every path member already parsed to a normalized native absolute path.
 */
export interface FsRequests {
  "fs/readFile": Omit<FsReadFileParams, "sandbox">;
  "fs/writeFile": Omit<FsWriteFileParams, "sandbox">;
  "fs/createDirectory": Omit<FsCreateDirectoryParams, "sandbox">;
  "fs/getMetadata": Omit<FsGetMetadataParams, "sandbox">;
  "fs/canonicalize": Omit<FsCanonicalizeParams, "sandbox">;
  "fs/readDirectory": Omit<FsReadDirectoryParams, "sandbox">;
  "fs/walk": Omit<FsWalkParams, "sandbox">;
  "fs/remove": Omit<FsRemoveParams, "sandbox">;
  "fs/copy": Omit<FsCopyParams, "sandbox">;
  "fs/open": Omit<FsOpenParams, "sandbox">;
  "fs/readBlock": FsReadBlockParams;
  "fs/writeBlock": FsWriteBlockParams;
  "fs/close": FsCloseParams;
}

/** The wire result of each fs method; paths in results are `file://` URIs. */
export interface FsResults {
  "fs/readFile": FsReadFileResult;
  "fs/writeFile": FsEmptyResult;
  "fs/createDirectory": FsEmptyResult;
  "fs/getMetadata": FsGetMetadataResult;
  "fs/canonicalize": FsCanonicalizeResult;
  "fs/readDirectory": FsReadDirectoryResult;
  "fs/walk": FsWalkResult;
  "fs/remove": FsEmptyResult;
  "fs/copy": FsEmptyResult;
  "fs/open": FsOpenResult;
  "fs/readBlock": FsReadBlockResult;
  "fs/writeBlock": FsEmptyResult;
  "fs/close": FsEmptyResult;
}

/**
 * One file system view with the semantics of PROTOCOL.md §7. File handles belong to the view,
 * so a view serves one connection. Errors are RpcErrors.
 */
export interface FileSystem {
  readFile(request: FsRequests["fs/readFile"], signal?: AbortSignal): Promise<FsReadFileResult>;
  writeFile(request: FsRequests["fs/writeFile"], signal?: AbortSignal): Promise<FsEmptyResult>;
  createDirectory(request: FsRequests["fs/createDirectory"], signal?: AbortSignal): Promise<FsEmptyResult>;
  getMetadata(request: FsRequests["fs/getMetadata"], signal?: AbortSignal): Promise<FsGetMetadataResult>;
  canonicalize(request: FsRequests["fs/canonicalize"], signal?: AbortSignal): Promise<FsCanonicalizeResult>;
  readDirectory(
    request: FsRequests["fs/readDirectory"],
    signal?: AbortSignal,
  ): Promise<FsReadDirectoryResult>;
  walk(request: FsRequests["fs/walk"], signal?: AbortSignal): Promise<FsWalkResult>;
  remove(request: FsRequests["fs/remove"], signal?: AbortSignal): Promise<FsEmptyResult>;
  copy(request: FsRequests["fs/copy"], signal?: AbortSignal): Promise<FsEmptyResult>;
  open(request: FsRequests["fs/open"], signal?: AbortSignal): Promise<FsOpenResult>;
  readBlock(request: FsRequests["fs/readBlock"], signal?: AbortSignal): Promise<FsReadBlockResult>;
  writeBlock(request: FsRequests["fs/writeBlock"], signal?: AbortSignal): Promise<FsEmptyResult>;
  /** Idempotent: an unknown or closed handle answers `{}`. */
  close(request: FsRequests["fs/close"], signal?: AbortSignal): Promise<FsEmptyResult>;
  /** Closes every handle of this view. */
  closeAll(): Promise<void>;
}
