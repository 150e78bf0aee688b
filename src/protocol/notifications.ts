import { z } from "zod";
import { StreamNameSchema } from "./process.ts";

const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** `initialized` (client → server, PROTOCOL.md §3.4); its params are ignored. */
export const InitializedParamsSchema = z.unknown();

/** `process/output` (§5.5): one chunk of a process's log. */
export const ProcessOutputParamsSchema = z.object({
  processId: z.string(),
  seq,
  stream: StreamNameSchema,
  /** 1 to 65,536 bytes of one stream, base64. */
  chunk: z.string(),
});
/** See `ProcessOutputParamsSchema`. */
export type ProcessOutputParams = z.infer<typeof ProcessOutputParamsSchema>;

/** `process/exited` (§5.5): the exit status; output may still follow. */
export const ProcessExitedParamsSchema = z.object({
  processId: z.string(),
  seq,
  /** The exit status, or 128 + N after a death by signal N. */
  exitCode: z.number().int(),
  sandboxDenied: z.boolean(),
  /** Present when `timeoutMs` ended the process (ext §11.4). */
  timedOut: z.literal(true).optional(),
  /** Present when a limit of `process/start.limits` ended it: the same text as `process/read.failure`. */
  failure: z.string().optional(),
});
/** See `ProcessExitedParamsSchema`. */
export type ProcessExitedParams = z.infer<typeof ProcessExitedParamsSchema>;

/** `process/closed` (§5.5): the last event of a process. */
export const ProcessClosedParamsSchema = z.object({ processId: z.string(), seq });
/** See `ProcessClosedParamsSchema`. */
export type ProcessClosedParams = z.infer<typeof ProcessClosedParamsSchema>;

/** Notifications a client sends. */
export const CLIENT_NOTIFICATION_SCHEMAS = {
  "initialized": InitializedParamsSchema,
} as const satisfies Record<string, z.ZodType>;

/** Notifications the server sends. */
export const SERVER_NOTIFICATION_SCHEMAS = {
  "process/output": ProcessOutputParamsSchema,
  "process/exited": ProcessExitedParamsSchema,
  "process/closed": ProcessClosedParamsSchema,
} as const satisfies Record<string, z.ZodType>;
