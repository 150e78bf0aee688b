import { z } from "zod";

/** JSON-RPC error codes of PROTOCOL.md §2.7. */
export const ErrorCode = {
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  NotFound: -32004,
  SessionAttached: -32010,
  LimitReached: -32001,
} as const satisfies Record<string, number>;

/** One of the codes of `ErrorCode`. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The `data.kind` values of PROTOCOL.md §2.7. */
export const ErrorKindSchema = z.enum([
  "ParseError",
  "NotInitialized",
  "AlreadyInitialized",
  "DuplicateRequestId",
  "UnknownSession",
  "SessionAttached",
  "SessionResumed",
  "UnknownProcess",
  "ProcessExists",
  "ProcessStarting",
  "NoTerminal",
  "MethodNotFound",
  "InvalidParams",
  "Unenforceable",
  "SpawnFailed",
  "WorkerFailed",
  "Internal",
  "LimitReached",
  "NotFound",
  "UnknownHandle",
  "PermissionDenied",
  "InvalidInput",
  "AlreadyExists",
  "NotADirectory",
  "IsADirectory",
  "DirectoryNotEmpty",
  "ReadOnlyFilesystem",
  "OsError",
]);
/** See `ErrorKindSchema`. */
export type ErrorKind = z.infer<typeof ErrorKindSchema>;

/** The error object as it travels on the wire (§2.6): `data` is what this server adds. */
export const WireErrorSchema = z.object({
  code: z.literal(Object.values(ErrorCode)),
  message: z.string(),
  /** `errno` only when the error came from the operating system (`"ENOENT"`). */
  data: z.object({ kind: ErrorKindSchema, errno: z.string().optional() }).optional(),
});
/** See `WireErrorSchema`. */
export type WireError = z.infer<typeof WireErrorSchema>;

/** The one error class that becomes a JSON-RPC error; services throw it, dispatch converts it. */
export class RpcError extends Error {
  readonly code: ErrorCodeValue;
  readonly kind: ErrorKind;
  readonly errno: string | undefined;

  constructor(
    code: ErrorCodeValue,
    kind: ErrorKind,
    message: string,
    options: { errno?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RpcError";
    this.code = code;
    this.kind = kind;
    this.errno = options.errno;
  }

  /** The wire form of this error. */
  toWire(): WireError {
    const data = this.errno === undefined ? { kind: this.kind } : { kind: this.kind, errno: this.errno };
    return { code: this.code, message: this.message, data };
  }
}

/** -32602 with kind InvalidParams. */
export function invalidParams(message: string): RpcError {
  return new RpcError(ErrorCode.InvalidParams, "InvalidParams", message);
}

/** -32600 with the given kind. */
export function invalidRequest(kind: ErrorKind, message: string): RpcError {
  return new RpcError(ErrorCode.InvalidRequest, kind, message);
}
