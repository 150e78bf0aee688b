import { z } from "zod";
import {
  FsCanonicalizeParamsSchema,
  FsCanonicalizeResultSchema,
  FsCloseParamsSchema,
  FsCopyParamsSchema,
  FsCreateDirectoryParamsSchema,
  FsEmptyResultSchema,
  FsGetMetadataParamsSchema,
  FsGetMetadataResultSchema,
  FsOpenParamsSchema,
  FsOpenResultSchema,
  FsReadBlockParamsSchema,
  FsReadBlockResultSchema,
  FsReadDirectoryParamsSchema,
  FsReadDirectoryResultSchema,
  FsReadFileParamsSchema,
  FsReadFileResultSchema,
  FsRemoveParamsSchema,
  FsWalkParamsSchema,
  FsWalkResultSchema,
  FsWriteBlockParamsSchema,
  FsWriteFileParamsSchema,
} from "./fs.ts";
import {
  ProcessCloseStdinResultSchema,
  ProcessEmptyResultSchema,
  ProcessIdParamsSchema,
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
} from "./process.ts";
import { EnvironmentInfoSchema, InitializeParamsSchema, InitializeResultSchema } from "./session.ts";

/** The handshake family a method belongs to, as named in the `must call initialize` messages (§3.1). */
export type MethodFamily = "exec" | "filesystem" | "environment info" | "session";

/** One row of the method table. */
export interface MethodSpec {
  /** Parses the params; unknown members are stripped. */
  readonly params: z.ZodType;
  /** The result's shape; the client validates replies with it. */
  readonly result: z.ZodType;
  readonly family: MethodFamily;
}

/**
 * Every method this server serves (PROTOCOL.md §4): the server's handlers, the client's typed
 * calls and the Local environment all derive from this table.
 */
export const METHODS = {
  "initialize": { params: InitializeParamsSchema, result: InitializeResultSchema, family: "session" },
  "environment/info": { params: z.unknown(), result: EnvironmentInfoSchema, family: "environment info" },
  "process/start": { params: ProcessStartParamsSchema, result: ProcessStartResultSchema, family: "exec" },
  "process/read": { params: ProcessReadParamsSchema, result: ProcessReadResultSchema, family: "exec" },
  "process/write": { params: ProcessWriteParamsSchema, result: ProcessWriteResultSchema, family: "exec" },
  "process/signal": { params: ProcessSignalParamsSchema, result: ProcessEmptyResultSchema, family: "exec" },
  "process/terminate": {
    params: ProcessIdParamsSchema,
    result: ProcessTerminateResultSchema,
    family: "exec",
  },
  "process/resize": { params: ProcessResizeParamsSchema, result: ProcessEmptyResultSchema, family: "exec" },
  "process/closeStdin": {
    params: ProcessIdParamsSchema,
    result: ProcessCloseStdinResultSchema,
    family: "exec",
  },
  "process/list": { params: ProcessListParamsSchema, result: ProcessListResultSchema, family: "exec" },
  "fs/readFile": { params: FsReadFileParamsSchema, result: FsReadFileResultSchema, family: "filesystem" },
  "fs/writeFile": { params: FsWriteFileParamsSchema, result: FsEmptyResultSchema, family: "filesystem" },
  "fs/createDirectory": {
    params: FsCreateDirectoryParamsSchema,
    result: FsEmptyResultSchema,
    family: "filesystem",
  },
  "fs/getMetadata": {
    params: FsGetMetadataParamsSchema,
    result: FsGetMetadataResultSchema,
    family: "filesystem",
  },
  "fs/canonicalize": {
    params: FsCanonicalizeParamsSchema,
    result: FsCanonicalizeResultSchema,
    family: "filesystem",
  },
  "fs/readDirectory": {
    params: FsReadDirectoryParamsSchema,
    result: FsReadDirectoryResultSchema,
    family: "filesystem",
  },
  "fs/walk": { params: FsWalkParamsSchema, result: FsWalkResultSchema, family: "filesystem" },
  "fs/remove": { params: FsRemoveParamsSchema, result: FsEmptyResultSchema, family: "filesystem" },
  "fs/copy": { params: FsCopyParamsSchema, result: FsEmptyResultSchema, family: "filesystem" },
  "fs/open": { params: FsOpenParamsSchema, result: FsOpenResultSchema, family: "filesystem" },
  "fs/readBlock": { params: FsReadBlockParamsSchema, result: FsReadBlockResultSchema, family: "filesystem" },
  "fs/writeBlock": { params: FsWriteBlockParamsSchema, result: FsEmptyResultSchema, family: "filesystem" },
  "fs/close": { params: FsCloseParamsSchema, result: FsEmptyResultSchema, family: "filesystem" },
} as const satisfies Record<string, MethodSpec>;

/** The name of a method of `METHODS`. */
export type MethodName = keyof typeof METHODS;

/** Extension methods advertised in `environmentInfo.extensions.methods` (§11.1). */
export const EXTENSION_METHODS = ["process/resize", "process/closeStdin", "process/list"] as const;
