import { z } from "zod";
import { StreamNameSchema } from "./process.ts";
import type { ReadChunk } from "./process.ts";

const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** `initialized` (client → server, PROTOCOL.md §3.4); its params are ignored. */
export const InitializedParamsSchema = z.unknown();

/** `process/output` params (PROTOCOL.md §5.5): one chunk of a process's log. */
export const ProcessOutputParamsSchema = z.object({
  processId: z.string(),
  seq,
  stream: StreamNameSchema,
  /** Base64 of 1 to 65,536 bytes of one stream. */
  chunk: z.string(),
});
/** See `ProcessOutputParamsSchema`. */
export type ProcessOutputParams = z.infer<typeof ProcessOutputParamsSchema>;

/** The header params of a `process/output` binary frame (§11.12): `byteLength` in place of `chunk`. */
export const ProcessOutputFrameParamsSchema = z.object({
  processId: z.string(),
  seq,
  stream: StreamNameSchema,
  byteLength: z.number().int().nonnegative(),
});

/** `process/exited` params: the exit status; output may still follow. */
export const ProcessExitedParamsSchema = z.object({
  processId: z.string(),
  seq,
  /** 0–255, or 128 + N for a death by signal N (§5.10). */
  exitCode: z.number().int(),
  /** §5.11: a hint that a sandbox refused something. */
  sandboxDenied: z.boolean(),
  /** Present only when `timeoutMs` killed the process (ext §11.4). */
  timedOut: z.literal(true).optional(),
  /** Present when a limit of `process/start.limits` ended it: the same text as `process/read.failure`. */
  failure: z.string().optional(),
});
/** See `ProcessExitedParamsSchema`. */
export type ProcessExitedParams = z.infer<typeof ProcessExitedParamsSchema>;

/** `process/closed` params: the last event of a process. */
export const ProcessClosedParamsSchema = z.object({ processId: z.string(), seq });
/** See `ProcessClosedParamsSchema`. */
export type ProcessClosedParams = z.infer<typeof ProcessClosedParamsSchema>;

/** Every notification the server sends, with its params schema. */
export const NOTIFICATIONS = {
  "process/output": ProcessOutputParamsSchema,
  "process/exited": ProcessExitedParamsSchema,
  "process/closed": ProcessClosedParamsSchema,
} as const satisfies Record<string, z.ZodType>;

/** The name of a notification the server sends. */
export type NotificationMethod = keyof typeof NOTIFICATIONS;

/** Every notification a client sends. */
export const CLIENT_NOTIFICATIONS = {
  "initialized": InitializedParamsSchema,
} as const satisfies Record<string, z.ZodType>;

/**
 * The JSON of `process/output` params, built without `JSON.stringify` of an object: this runs once
 * per chunk. Equals `JSON.stringify(ProcessOutputParamsSchema.parse(...))` (base64 and the stream
 * names need no escaping; a test checks the equality).
 */
export function processOutputJson(processId: string, chunk: ReadChunk): string {
  return `{"processId":${
    JSON.stringify(processId)
  },"seq":${chunk.seq},"stream":"${chunk.stream}","chunk":"${chunk.chunk}"}`;
}

/**
 * The header params of a `process/output` binary frame (§11.12): the text form's params with
 * `byteLength` in place of `chunk`.
 */
export function processOutputHeaderJson(
  processId: string,
  chunk: ReadChunk & { byteLength: number },
): string {
  return `{"processId":${
    JSON.stringify(processId)
  },"seq":${chunk.seq},"stream":"${chunk.stream}","byteLength":${chunk.byteLength}}`;
}

/** What `process/exited` reports besides the process id. */
export interface ExitFacts {
  readonly seq: number;
  readonly exitCode: number;
  readonly sandboxDenied: boolean;
  readonly timedOut: boolean;
  /** The limit that ended the process, or null. */
  readonly failure: string | null;
}

/** The JSON of `process/exited` params; equals `JSON.stringify` of the schema-parsed params. */
export function processExitedJson(processId: string, exit: ExitFacts): string {
  const timedOut = exit.timedOut ? `,"timedOut":true` : "";
  const failure = exit.failure === null ? "" : `,"failure":${JSON.stringify(exit.failure)}`;
  return `{"processId":${
    JSON.stringify(processId)
  },"seq":${exit.seq},"exitCode":${exit.exitCode},"sandboxDenied":${exit.sandboxDenied}${timedOut}${failure}}`;
}

/** The JSON of `process/closed` params; equals `JSON.stringify` of the schema-parsed params. */
export function processClosedJson(processId: string, seq: number): string {
  return `{"processId":${JSON.stringify(processId)},"seq":${seq}}`;
}
