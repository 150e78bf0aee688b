import { z } from "zod";
import { FS_RESULT_SCHEMAS, FsEmptyResultSchema } from "./fs.ts";
import type { CORE_METHODS } from "./methods.ts";
import {
  ProcessListEntrySchema,
  ProcessReadResultSchema,
  ProcessStartResultSchema,
  WriteStatusSchema,
} from "./process.ts";
import { EnvironmentInfoSchema, InitializeResultSchema } from "./session.ts";

/** The `{}` result of `process/signal`, `process/resize` and the fs methods that return nothing. */
export const EmptyResultSchema = FsEmptyResultSchema;

/** `process/write` result (PROTOCOL.md §5.7). */
export const ProcessWriteResultSchema = z.object({ status: WriteStatusSchema });
/** See `ProcessWriteResultSchema`. */
export type ProcessWriteResult = z.infer<typeof ProcessWriteResultSchema>;

/** `process/terminate` result (§5.9): whether the process was running when the call arrived. */
export const ProcessTerminateResultSchema = z.object({ running: z.boolean() });
/** See `ProcessTerminateResultSchema`. */
export type ProcessTerminateResult = z.infer<typeof ProcessTerminateResultSchema>;

/** `process/closeStdin` result (ext §11.7). */
export const ProcessCloseStdinResultSchema = z.object({
  /** `accepted` when this call closed stdin, `stdinClosed` when it was closed or never open. */
  status: z.enum(["accepted", "stdinClosed", "unknownProcess"]),
});
/** See `ProcessCloseStdinResultSchema`. */
export type ProcessCloseStdinResult = z.infer<typeof ProcessCloseStdinResultSchema>;

/** `process/list` result (ext §11.8): the session's processes, oldest first. */
export const ProcessListResultSchema = z.object({ processes: z.array(ProcessListEntrySchema) });
/** See `ProcessListResultSchema`. */
export type ProcessListResult = z.infer<typeof ProcessListResultSchema>;

/** The result schema of every session and process method, keyed like `CORE_METHODS`. */
export const CORE_RESULT_SCHEMAS = {
  "initialize": InitializeResultSchema,
  "environment/info": EnvironmentInfoSchema,
  "process/start": ProcessStartResultSchema,
  "process/read": ProcessReadResultSchema,
  "process/write": ProcessWriteResultSchema,
  "process/signal": EmptyResultSchema,
  "process/terminate": ProcessTerminateResultSchema,
  "process/resize": EmptyResultSchema,
  "process/closeStdin": ProcessCloseStdinResultSchema,
  "process/list": ProcessListResultSchema,
} as const satisfies Record<keyof typeof CORE_METHODS, z.ZodType>;

/** The result schema of every method this server serves. */
export const RESULT_SCHEMAS = { ...CORE_RESULT_SCHEMAS, ...FS_RESULT_SCHEMAS } as const;
