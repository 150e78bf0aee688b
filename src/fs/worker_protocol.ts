import { z } from "zod";
import {
  ErrorCode,
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
  FsRemoveParamsSchema,
  FsWalkParamsSchema,
  FsWalkResultSchema,
  FsWriteBlockParamsSchema,
  FsWriteFileParamsSchema,
} from "../protocol/mod.ts";
import type { ErrorKind } from "../protocol/mod.ts";
import type { MethodShapes } from "../rpc/mod.ts";

/**
 * The fs worker's stdio protocol: JSON-RPC on both ends of one pipe pair, one request per line on
 * the worker's stdin, one response per line on its stdout, answered in any order. A result that is
 * raw bytes (`fs/readFile`) is a feature of this transport: its line is `{"id":N,"bytes":LEN}` and
 * LEN raw bytes follow the newline, so a large file crosses the pipe unencoded and is never parsed
 * as JSON.
 */

/** Closes every handle of a scope (the connection that opened them ended). */
export const CLOSE_SCOPE_METHOD = "worker/closeScope";
/** Reads on a held `fs/readFile` (`HeldReadParams`); answered with the whole file's bytes. */
export const RESUME_READ_METHOD = "worker/resumeRead";
/** Closes a held `fs/readFile` unread. */
export const DROP_READ_METHOD = "worker/dropRead";

/**
 * An `fs/readFile` that may hold at most `bytes` of the file (and one to see its end) before the
 * server says to read on: past them the worker answers `{"held":true}`, keeps the descriptor and
 * what it read under `id`, and reads on at `worker/resumeRead` of that `id`.
 */
const HoldSchema = z.object({ id: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() });
/** The params of `worker/resumeRead` and `worker/dropRead`: the held read's `id`. */
const HeldReadParams = z.object({ id: z.number().int().nonnegative() });
/** The answer to an `fs/readFile` that reached its `hold`. */
export const HELD_RESULT = { held: true } as const;
/** See `HELD_RESULT`. */
export const HeldResultSchema = z.object({ held: z.literal(true) }).strict();

/**
 * Every request names its scope (the connection whose file handles it uses) and may carry the
 * server's reply limit, which `fs/readDirectory` and `fs/walk` stop at (PROTOCOL.md §2.8).
 */
function scoped<S extends z.ZodType>(
  request: S,
): z.ZodObject<{ scope: z.ZodString; request: S; maxReplyBytes: z.ZodOptional<z.ZodNumber> }> {
  return z.object({ scope: z.string(), request, maxReplyBytes: z.number().int().nonnegative().optional() });
}

/**
 * The worker's methods: every fs method, its params the `FileSystem` request (wire params without
 * `sandbox`, paths native), plus `worker/closeScope` and the held reads' `worker/resumeRead` and
 * `worker/dropRead`.
 */
export const WORKER_METHODS = {
  "fs/readFile": {
    params: scoped(FsReadFileParamsSchema).extend({ hold: HoldSchema.optional() }),
    result: z.union([
      z.custom<Uint8Array>((value) => value instanceof Uint8Array),
      HeldResultSchema,
    ]),
  },
  "fs/writeFile": { params: scoped(FsWriteFileParamsSchema), result: FsEmptyResultSchema },
  "fs/createDirectory": { params: scoped(FsCreateDirectoryParamsSchema), result: FsEmptyResultSchema },
  "fs/getMetadata": { params: scoped(FsGetMetadataParamsSchema), result: FsGetMetadataResultSchema },
  "fs/canonicalize": { params: scoped(FsCanonicalizeParamsSchema), result: FsCanonicalizeResultSchema },
  "fs/readDirectory": { params: scoped(FsReadDirectoryParamsSchema), result: FsReadDirectoryResultSchema },
  "fs/walk": { params: scoped(FsWalkParamsSchema), result: FsWalkResultSchema },
  "fs/remove": { params: scoped(FsRemoveParamsSchema), result: FsEmptyResultSchema },
  "fs/copy": { params: scoped(FsCopyParamsSchema), result: FsEmptyResultSchema },
  "fs/open": { params: scoped(FsOpenParamsSchema), result: FsOpenResultSchema },
  "fs/readBlock": { params: scoped(FsReadBlockParamsSchema), result: FsReadBlockResultSchema },
  "fs/writeBlock": { params: scoped(FsWriteBlockParamsSchema), result: FsEmptyResultSchema },
  "fs/close": { params: scoped(FsCloseParamsSchema), result: FsEmptyResultSchema },
  [CLOSE_SCOPE_METHOD]: { params: scoped(z.object({})), result: FsEmptyResultSchema },
  [RESUME_READ_METHOD]: {
    params: scoped(HeldReadParams),
    result: z.custom<Uint8Array>((value) => value instanceof Uint8Array),
  },
  [DROP_READ_METHOD]: { params: scoped(HeldReadParams), result: FsEmptyResultSchema },
} as const satisfies MethodShapes;

/** The name of a worker method. */
export type WorkerMethod = keyof typeof WORKER_METHODS;

/** The error kinds a worker may report: those its `DirectFileSystem` throws. */
export const WORKER_ERROR_KINDS = [
  "NotFound",
  "UnknownHandle",
  "PermissionDenied",
  "InvalidInput",
  "InvalidParams",
  "LimitReached",
  "AlreadyExists",
  "NotADirectory",
  "IsADirectory",
  "DirectoryNotEmpty",
  "ReadOnlyFilesystem",
  "OsError",
  "Internal",
] as const satisfies readonly ErrorKind[];

/** An error reply as the worker may send it: exactly the RpcError the server then throws. */
export const WorkerErrorSchema = z.object({
  code: z.literal([
    ErrorCode.NotFound,
    ErrorCode.InvalidRequest,
    ErrorCode.InvalidParams,
    ErrorCode.LimitReached,
    ErrorCode.Internal,
  ]),
  message: z.string(),
  data: z.object({ kind: z.enum(WORKER_ERROR_KINDS), errno: z.string().optional() }),
});
/** See `WorkerErrorSchema`. */
export type WorkerError = z.infer<typeof WorkerErrorSchema>;

const id = z.number().int().nonnegative();

/**
 * One response line as the server accepts it: a result object, an error, or the length of the raw
 * bytes that follow. Anything else means the worker is broken (or hostile) and it is retired.
 */
export const WorkerResponseSchema = z.union([
  z.object({ id, result: z.record(z.string(), z.unknown()) }),
  z.object({ id, error: WorkerErrorSchema }),
  z.object({
    id,
    /** The answer to `fs/readFile`: this many bytes of file content follow the line's newline. */
    bytes: z.number().int().nonnegative(),
  }),
]);
/** See `WorkerResponseSchema`. */
export type WorkerResponse = z.infer<typeof WorkerResponseSchema>;
