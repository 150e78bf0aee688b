export { base64Problem, decodeBase64, encodeBase64 } from "./base64.ts";
export {
  ErrorCode,
  ErrorKindSchema,
  invalidParams,
  invalidRequest,
  RpcError,
  WireErrorSchema,
} from "./errors.ts";
export type { ErrorCodeValue, ErrorKind, WireError } from "./errors.ts";
export { EnvPolicySchema } from "./env_policy.ts";
export type { EnvPolicy } from "./env_policy.ts";
export { normalizePath, parsePathUri, pathToUri } from "./paths.ts";
export { CORE_METHODS, EXTENSION_METHODS } from "./methods.ts";
export type { MethodFamily, MethodSpec } from "./methods.ts";
export {
  CORE_RESULT_SCHEMAS,
  EmptyResultSchema,
  ProcessCloseStdinResultSchema,
  ProcessListResultSchema,
  ProcessTerminateResultSchema,
  ProcessWriteResultSchema,
  RESULT_SCHEMAS,
} from "./method_results.ts";
export type {
  ProcessCloseStdinResult,
  ProcessListResult,
  ProcessTerminateResult,
  ProcessWriteResult,
} from "./method_results.ts";
export {
  CLIENT_NOTIFICATION_SCHEMAS,
  InitializedParamsSchema,
  ProcessClosedParamsSchema,
  ProcessExitedParamsSchema,
  ProcessOutputParamsSchema,
  SERVER_NOTIFICATION_SCHEMAS,
} from "./notifications.ts";
export type { ProcessClosedParams, ProcessExitedParams, ProcessOutputParams } from "./notifications.ts";
export {
  ProcessIdParamsSchema,
  ProcessLimitsSchema,
  ProcessListEntrySchema,
  ProcessListParamsSchema,
  ProcessReadParamsSchema,
  ProcessReadResultSchema,
  ProcessResizeParamsSchema,
  ProcessSignalParamsSchema,
  ProcessStartParamsSchema,
  ProcessStartResultSchema,
  ProcessWriteParamsSchema,
  ReadChunkSchema,
  SIGNAL_NUMBERS,
  StreamNameSchema,
  TerminalSizeSchema,
  WriteStatusSchema,
} from "./process.ts";
export type {
  ProcessIdParams,
  ProcessLimitsParam,
  ProcessListEntry,
  ProcessReadParams,
  ProcessReadResult,
  ProcessResizeParams,
  ProcessSignalParams,
  ProcessStartParams,
  ProcessStartResult,
  ProcessWriteParams,
  ReadChunk,
  StreamName,
  WriteStatus,
} from "./process.ts";
export {
  CODEX_CAPABILITIES,
  ContainmentInfoSchema,
  EnvironmentInfoSchema,
  ExtensionsSchema,
  InitializeParamsSchema,
  InitializeResultSchema,
} from "./session.ts";
export type {
  ContainmentInfo,
  EnvironmentInfo,
  Extensions,
  InitializeParams,
  InitializeResult,
} from "./session.ts";
export { SandboxParamSchema } from "./sandbox_param.ts";
export { expectedOneOf, formatSandboxIssues, SandboxSchema } from "./sandbox.ts";
export type { Entry, Permissions, ReadOnlyAccess, Sandbox, SandboxPolicy } from "./sandbox.ts";
export {
  FS_METHODS,
  FS_PARAMS_SCHEMAS,
  FS_RESULT_SCHEMAS,
  FsCanonicalizeParamsSchema,
  FsCanonicalizeResultSchema,
  FsCloseParamsSchema,
  FsCopyParamsSchema,
  FsCreateDirectoryParamsSchema,
  FsDirectoryEntrySchema,
  FsEmptyResultSchema,
  FsGetMetadataParamsSchema,
  FsGetMetadataResultSchema,
  FsOpenModeSchema,
  FsOpenParamsSchema,
  FsOpenResultSchema,
  FsReadBlockParamsSchema,
  FsReadBlockResultSchema,
  FsReadDirectoryParamsSchema,
  FsReadDirectoryResultSchema,
  FsReadFileParamsSchema,
  FsReadFileResultSchema,
  FsRemoveParamsSchema,
  FsWalkEntrySchema,
  FsWalkErrorSchema,
  FsWalkOptionsSchema,
  FsWalkParamsSchema,
  FsWalkResultSchema,
  FsWriteBlockParamsSchema,
  FsWriteFileParamsSchema,
} from "./fs.ts";
export type {
  FsCanonicalizeParams,
  FsCanonicalizeResult,
  FsCloseParams,
  FsCopyParams,
  FsCreateDirectoryParams,
  FsDirectoryEntry,
  FsEmptyResult,
  FsGetMetadataParams,
  FsGetMetadataResult,
  FsMethod,
  FsOpenMode,
  FsOpenParams,
  FsOpenResult,
  FsReadBlockParams,
  FsReadBlockResult,
  FsReadDirectoryParams,
  FsReadDirectoryResult,
  FsReadFileParams,
  FsReadFileResult,
  FsRemoveParams,
  FsWalkEntry,
  FsWalkError,
  FsWalkOptions,
  FsWalkParams,
  FsWalkResult,
  FsWriteBlockParams,
  FsWriteFileParams,
} from "./fs.ts";
