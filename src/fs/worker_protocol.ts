import { z } from "zod";
import { ErrorCode } from "../protocol/mod.ts";
import type { ErrorKind } from "../protocol/mod.ts";
import { FS_METHODS } from "../protocol/mod.ts";

/**
 * The fs worker's stdio protocol: one request object per line on its stdin; on its stdout one
 * response line per request, matched by `id`, answered in any order. `fs/readFile` is answered
 * with a bytes response: the line states a length and the file's raw bytes follow its newline, so
 * a large file crosses the pipe unencoded and is never parsed as JSON.
 */

/** Closes every handle of a scope (the connection that opened them ended). */
export const CLOSE_SCOPE_METHOD = "worker/closeScope";

/** Methods the worker serves: every fs method, plus `worker/closeScope`. */
export const WorkerMethodSchema = z.enum([...FS_METHODS, CLOSE_SCOPE_METHOD]);
/** See `WorkerMethodSchema`. */
export type WorkerMethod = z.infer<typeof WorkerMethodSchema>;

/** One request line. */
export const WorkerRequestSchema = z.object({
  /** Unique among the requests in flight on this worker. */
  id: z.number().int().nonnegative(),
  /** The connection whose file handles the request uses; handle ids are unique per scope. */
  scope: z.string(),
  method: WorkerMethodSchema,
  /** The `FileSystem` request: wire params without `sandbox`, paths native. */
  params: z.unknown(),
});
/** See `WorkerRequestSchema`. */
export type WorkerRequest = z.infer<typeof WorkerRequestSchema>;

const WORKER_ERROR_KINDS = [
  "NotFound",
  "UnknownHandle",
  "PermissionDenied",
  "InvalidInput",
  "InvalidParams",
  "AlreadyExists",
  "NotADirectory",
  "IsADirectory",
  "DirectoryNotEmpty",
  "ReadOnlyFilesystem",
  "OsError",
  "Internal",
] as const satisfies readonly ErrorKind[];

/** An error as the worker reports it: exactly the RpcError the server then throws. */
export const WorkerErrorSchema = z.object({
  code: z.literal([
    ErrorCode.NotFound,
    ErrorCode.InvalidRequest,
    ErrorCode.InvalidParams,
    ErrorCode.Internal,
  ]),
  kind: z.enum(WORKER_ERROR_KINDS),
  message: z.string(),
  errno: z.string().optional(),
});
/** See `WorkerErrorSchema`. */
export type WorkerError = z.infer<typeof WorkerErrorSchema>;

/** One response line: a result object, an error, or the length of the raw bytes that follow. */
export const WorkerResponseSchema = z.union([
  z.object({ id: z.number().int().nonnegative(), result: z.record(z.string(), z.unknown()) }),
  z.object({ id: z.number().int().nonnegative(), error: WorkerErrorSchema }),
  z.object({
    id: z.number().int().nonnegative(),
    /** The answer to `fs/readFile`: this many bytes of file content follow the line's newline. */
    bytes: z.number().int().nonnegative(),
  }),
]);
/** See `WorkerResponseSchema`. */
export type WorkerResponse = z.infer<typeof WorkerResponseSchema>;
