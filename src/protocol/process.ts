import { z } from "zod";
import { EmptyResultSchema } from "./empty_result.ts";
import { EnvPolicySchema } from "./env_policy.ts";
import { SandboxParamSchema } from "./sandbox_param.ts";
import { StringMapSchema } from "./string_map.ts";

const int = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const dimension = z.number().int().min(1).max(65535);

/** The output streams of PROTOCOL.md §5.2. */
export const StreamNameSchema = z.enum(["stdout", "stderr", "pty"]);
/** See `StreamNameSchema`. */
export type StreamName = z.infer<typeof StreamNameSchema>;

/** Terminal size, ext §11.2. */
export const TerminalSizeSchema = z.object({ cols: dimension, rows: dimension });

/**
 * Resource limits of one process together with everything it starts (ext, docs/spec_deltas.md).
 * An absent or null member takes the server's default for it (`--default-memory-bytes` …).
 */
export const ProcessLimitsSchema = z.object({
  /** Memory the process tree may use (anonymous memory and page cache charged to it), in bytes. */
  memoryBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).nullish(),
  /** Processes and threads that may exist in the tree at once; forks past it fail with EAGAIN. */
  pids: z.number().int().min(1).max(4_194_304).nullish(),
  /** CPU time the tree may consume in total, in seconds (fractions allowed). */
  cpuSeconds: z.number().min(0.01).max(31_536_000).nullish(),
});
/** See `ProcessLimitsSchema`. */
export type ProcessLimitsParam = z.infer<typeof ProcessLimitsSchema>;

/** `process/start` params (PROTOCOL.md §5.1). */
export const ProcessStartParamsSchema = z.object({
  /** ≤ 1024 bytes UTF-8, unique in the session. */
  processId: z.string(),
  /** ≥ 1 element, argv[0] non-empty, no NUL. */
  argv: z.array(z.string()),
  /** An existing directory at spawn. */
  cwd: z.string(),
  /** The child's environment (or the overlay when `envPolicy` is set); any name, `__proto__` too. */
  env: StringMapSchema,
  /** Run on a pseudo-terminal. */
  tty: z.boolean(),
  /** A writable stdin pipe when `tty` is false; null is refused. */
  pipeStdin: z.boolean().optional(),
  /** The argv[0] the child sees. */
  arg0: z.string().nullish(),
  /** PROTOCOL.md §6. */
  envPolicy: EnvPolicySchema.nullish(),
  /** PROTOCOL.md §8. */
  sandbox: SandboxParamSchema,
  /** An object whose members are ignored (Codex sends thread and call ids); a scalar is refused. */
  metadata: z.looseObject({}).nullish(),
  /** true = no network for this process. */
  enforceManagedNetwork: z.boolean().nullish(),
  /** Non-null is refused. */
  managedNetwork: z.unknown().optional(),
  /** Non-null is refused. */
  networkProxy: z.unknown().optional(),
  /** Non-null is refused. */
  shellSnapshot: z.unknown().optional(),
  /** Initial terminal size (ext §11.2). */
  size: TerminalSizeSchema.nullish(),
  /** Kill after this many ms (ext §11.4). */
  timeoutMs: z.number().int().min(1).max(2147483647).nullish(),
  /** Resource limits of the process and its descendants (ext). */
  limits: ProcessLimitsSchema.nullish(),
});
/** See `ProcessStartParamsSchema`. */
export type ProcessStartParams = z.infer<typeof ProcessStartParamsSchema>;

/** `process/start` result. */
export const ProcessStartResultSchema = z.object({
  processId: z.string(),
  sandboxType: z.enum(["none", "linuxSeccomp"]),
});
/** See `ProcessStartResultSchema`. */
export type ProcessStartResult = z.infer<typeof ProcessStartResultSchema>;

/** `process/read` params (§5.6). */
export const ProcessReadParamsSchema = z.object({
  processId: z.string(),
  afterSeq: int.nullish(),
  maxBytes: int.nullish(),
  waitMs: int.nullish(),
});
/** See `ProcessReadParamsSchema`. */
export type ProcessReadParams = z.infer<typeof ProcessReadParamsSchema>;

/** One chunk of output as `process/read` returns it. */
export const ReadChunkSchema = z.object({ seq: int, stream: StreamNameSchema, chunk: z.string() });
/** See `ReadChunkSchema`. */
export type ReadChunk = z.infer<typeof ReadChunkSchema>;

/** `process/read` result. */
export const ProcessReadResultSchema = z.object({
  chunks: z.array(ReadChunkSchema),
  nextSeq: int,
  exited: z.boolean(),
  exitCode: z.number().int().nullable(),
  closed: z.boolean(),
  failure: z.string().nullable(),
  sandboxDenied: z.boolean(),
  droppedBytes: int,
  timedOut: z.literal(true).optional(),
});
/** See `ProcessReadResultSchema`. */
export type ProcessReadResult = z.infer<typeof ProcessReadResultSchema>;

/** `process/write` params (§5.7). */
export const ProcessWriteParamsSchema = z.object({
  processId: z.string(),
  chunk: z.string(),
  writeId: z.string().nullish(),
});
/** See `ProcessWriteParamsSchema`. */
export type ProcessWriteParams = z.infer<typeof ProcessWriteParamsSchema>;

/** The statuses of `process/write`. */
export const WriteStatusSchema = z.enum(["accepted", "unknownProcess", "stdinClosed", "starting"]);
/** See `WriteStatusSchema`. */
export type WriteStatus = z.infer<typeof WriteStatusSchema>;

/** Signal names of §5.8/§11.5. */
export const SIGNAL_NUMBERS = {
  interrupt: 2,
  terminate: 15,
  kill: 9,
  hangup: 1,
  quit: 3,
  user1: 10,
  user2: 12,
} as const satisfies Record<string, number>;

/** `process/signal` params; the signal value is checked by the handler to name it in the error. */
export const ProcessSignalParamsSchema = z.object({
  processId: z.string(),
  signal: z.union([z.string(), z.number()]),
});
/** See `ProcessSignalParamsSchema`. */
export type ProcessSignalParams = z.infer<typeof ProcessSignalParamsSchema>;

/** Params that name only a process: terminate, closeStdin. */
export const ProcessIdParamsSchema = z.object({ processId: z.string() });
/** See `ProcessIdParamsSchema`. */
export type ProcessIdParams = z.infer<typeof ProcessIdParamsSchema>;

/** `process/resize` params (ext §11.3). */
export const ProcessResizeParamsSchema = z.object({
  processId: z.string(),
  cols: dimension,
  rows: dimension,
});
/** See `ProcessResizeParamsSchema`. */
export type ProcessResizeParams = z.infer<typeof ProcessResizeParamsSchema>;

/** `process/list` params: `{}` or null. */
export const ProcessListParamsSchema = z.object({}).nullish();

/** One row of `process/list` (ext §11.8). */
export const ProcessListEntrySchema = z.object({
  processId: z.string(),
  argv0: z.string(),
  state: z.enum(["starting", "running", "exited", "closed"]),
  tty: z.boolean(),
  pid: int.nullable(),
  exitCode: z.number().int().nullable(),
  startedAtMs: int,
  outputBytes: int,
  /** Highest memory use of the process tree so far, in bytes; null where the host does not measure it. */
  peakMemoryBytes: int.nullable(),
  /** CPU time the process tree has used so far, in seconds; null where the host does not measure it. */
  cpuSeconds: z.number().nonnegative().nullable(),
});
/** See `ProcessListEntrySchema`. */
export type ProcessListEntry = z.infer<typeof ProcessListEntrySchema>;

/** `process/write` result. */
export const ProcessWriteResultSchema = z.object({ status: WriteStatusSchema });
/** See `ProcessWriteResultSchema`. */
export type ProcessWriteResult = z.infer<typeof ProcessWriteResultSchema>;

/** `process/terminate` result: whether the process was still running (§5.9). */
export const ProcessTerminateResultSchema = z.object({ running: z.boolean() });
/** See `ProcessTerminateResultSchema`. */
export type ProcessTerminateResult = z.infer<typeof ProcessTerminateResultSchema>;

/** The statuses of `process/closeStdin` (ext §11.7). */
export const CloseStdinStatusSchema = z.enum(["accepted", "stdinClosed", "unknownProcess"]);
/** See `CloseStdinStatusSchema`. */
export type CloseStdinStatus = z.infer<typeof CloseStdinStatusSchema>;

/** `process/closeStdin` result. */
export const ProcessCloseStdinResultSchema = z.object({ status: CloseStdinStatusSchema });
/** See `ProcessCloseStdinResultSchema`. */
export type ProcessCloseStdinResult = z.infer<typeof ProcessCloseStdinResultSchema>;

/** `process/list` result, oldest first. */
export const ProcessListResultSchema = z.object({ processes: z.array(ProcessListEntrySchema) });
/** See `ProcessListResultSchema`. */
export type ProcessListResult = z.infer<typeof ProcessListResultSchema>;

/** The `{}` result of `process/signal` and `process/resize`. */
export const ProcessEmptyResultSchema = EmptyResultSchema;
/** See `ProcessEmptyResultSchema`. */
export type ProcessEmptyResult = z.infer<typeof ProcessEmptyResultSchema>;
