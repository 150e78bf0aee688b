/**
 * The fs methods of PROTOCOL.md §7: one `FileSystem` interface, served in-process or by a sandbox
 * worker, with OS errors mapped in one table.
 */
export { DEFAULT_MAX_READ_FILE_BYTES, DirectFileSystem, FILE_TOO_LARGE } from "./direct_file_system.ts";
export type { DirectFileSystemOptions } from "./direct_file_system.ts";
export {
  errnoError,
  errnoOf,
  fenceDenial,
  osError,
  osErrorInfo,
  osErrorText,
  toFsError,
} from "./error_map.ts";
export type { FenceDenial, OsErrorInfo } from "./error_map.ts";
export {
  FileHandleTable,
  HandleCount,
  MAX_BLOCK_BYTES,
  MAX_FILE_HANDLES,
  MAX_HANDLE_ID_BYTES,
  MAX_SERVER_FILE_HANDLES,
  unknownHandle,
} from "./file_handle_table.ts";
export { callFileSystem } from "./file_system.ts";
export type { FileSystem, FsRequests, FsResults } from "../protocol/mod.ts";
export { FS_HANDLERS } from "./fs_methods.ts";
export type { FsMethodContext, FsMethodShapes, FsRunner } from "./fs_methods.ts";
export {
  FsConnection,
  FsService,
  MAX_PINNED_WORKERS_PER_SESSION,
  MAX_RUNNING_WORKERS_PER_SESSION,
  pinnedShare,
} from "./fs_service.ts";
export type { FsParams, FsServiceOptions } from "./fs_service.ts";
export { FsWorker, workerExited } from "./fs_worker.ts";
export type { FsWorkerOptions, SpareSource, WorkerLaunch } from "./fs_worker.ts";
export { parseReadable, runFsWorker } from "./fs_worker_server.ts";
export { FrameSplitter } from "./frame_splitter.ts";
export type { Frame, FrameLimits, FrameSplitterOptions } from "./frame_splitter.ts";
export type { LargeWait } from "./large_wait.ts";
export { LineSplitter } from "./line_splitter.ts";
export { O_NOBLOCK_NOCTTY, openRegular } from "./open_regular.ts";
export { removeTree } from "./remove_tree.ts";
export { LineWriter } from "./line_writer.ts";
export { DEFAULT_MAX_REPLY_BYTES } from "./reply_budget.ts";
export { SandboxedFileSystem } from "./sandboxed_file_system.ts";
export { LargeListing, SMALL_DIRECTORY_BYTES, SMALL_LISTING_BYTES } from "./small_listing.ts";
export type { SandboxedFileSystemOptions } from "./sandboxed_file_system.ts";
export { CLOSE_SCOPE_METHOD, WorkerErrorSchema, WorkerResponseSchema } from "./worker_protocol.ts";
export type { WorkerError, WorkerMethod, WorkerResponse } from "./worker_protocol.ts";
export { FS_METHODS, FS_PARAMS_SCHEMAS, FS_RESULT_SCHEMAS } from "../protocol/mod.ts";
export type { FsMethod } from "../protocol/mod.ts";
