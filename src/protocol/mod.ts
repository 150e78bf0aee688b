export { base64Problem, decodeBase64, encodeBase64 } from "./base64.ts";
export type { DecodeTarget } from "./base64.ts";
export {
  answerError,
  ERROR_KINDS,
  ErrorCode,
  ErrorKindSchema,
  fromWireError,
  invalidParams,
  invalidRequest,
  RpcError,
  WireErrorSchema,
} from "./errors.ts";
export type { ErrorCodeValue, ErrorKind, WireError } from "./errors.ts";
export { EnvPolicySchema } from "./env_policy.ts";
export type { EnvPolicy } from "./env_policy.ts";
export { findLoneSurrogate, loneSurrogateIndex, loneSurrogateProblem } from "./lone_surrogate.ts";
export type { LoneSurrogate } from "./lone_surrogate.ts";
export { normalizePath, parsePathUri, pathToUri } from "./paths.ts";
export { StringMapSchema, StringMapWireSchema } from "./string_map.ts";
export { EXTENSION_METHODS, METHODS } from "./methods.ts";
export type { MethodFamily, MethodName, MethodSpec } from "./methods.ts";
export { EmptyResultSchema, RESULT_SCHEMAS } from "./method_results.ts";
export {
  CLIENT_NOTIFICATIONS,
  InitializedParamsSchema,
  NOTIFICATIONS,
  processClosedJson,
  ProcessClosedParamsSchema,
  processExitedJson,
  ProcessExitedParamsSchema,
  ProcessOutputFrameParamsSchema,
  processOutputHeaderJson,
  processOutputJson,
  ProcessOutputParamsSchema,
} from "./notifications.ts";
export type {
  ExitFacts,
  NotificationMethod,
  ProcessClosedParams,
  ProcessExitedParams,
  ProcessOutputParams,
} from "./notifications.ts";
export { envGlob, GlobMatcher, pathGlob } from "./glob_match.ts";
export { processReadResultJson } from "./read_result_json.ts";
export {
  CloseStdinStatusSchema,
  ProcessCloseStdinResultSchema,
  ProcessEmptyResultSchema,
  ProcessIdParamsSchema,
  ProcessLimitsSchema,
  ProcessListEntrySchema,
  ProcessListParamsSchema,
  ProcessListResultSchema,
  ProcessReadParamsSchema,
  ProcessReadResultSchema,
  ProcessResizeParamsSchema,
  ProcessSignalParamsSchema,
  ProcessStartParamsSchema,
  ProcessStartResultSchema,
  ProcessTerminateResultSchema,
  ProcessWriteParamsSchema,
  ProcessWriteResultSchema,
  ReadChunkSchema,
  SIGNAL_NUMBERS,
  StreamNameSchema,
  TerminalSizeSchema,
  WriteStatusSchema,
} from "./process.ts";
export type {
  CloseStdinStatus,
  ProcessCloseStdinResult,
  ProcessEmptyResult,
  ProcessIdParams,
  ProcessLimitsParam,
  ProcessListEntry,
  ProcessListResult,
  ProcessReadParams,
  ProcessReadResult,
  ProcessResizeParams,
  ProcessSignalParams,
  ProcessStartParams,
  ProcessStartResult,
  ProcessTerminateResult,
  ProcessWriteParams,
  ProcessWriteResult,
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
export type { FileSystem, FsRequests, FsResults } from "./file_system.ts";
