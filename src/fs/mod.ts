/**
 * The fs methods of PROTOCOL.md §7: one `FileSystem` interface, served in-process or by a sandbox
 * worker, with OS errors mapped in one table.
 */
export { DEFAULT_MAX_READ_FILE_BYTES, DirectFileSystem } from "./direct_file_system.ts";
export type { DirectFileSystemOptions } from "./direct_file_system.ts";
export { errnoError, errnoOf, osError, osErrorInfo, osErrorText, toFsError } from "./error_map.ts";
export type { OsErrorInfo } from "./error_map.ts";
export {
  FileHandleTable,
  MAX_BLOCK_BYTES,
  MAX_FILE_HANDLES,
  MAX_HANDLE_ID_BYTES,
  unknownHandle,
} from "./file_handle_table.ts";
export { callFileSystem } from "./file_system.ts";
export type { FileSystem, FsRequests, FsResults } from "./file_system.ts";
