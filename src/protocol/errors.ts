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
export const ERROR_KINDS = [
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
] as const;

/** One of `ERROR_KINDS`. */
export const ErrorKindSchema = z.enum(ERROR_KINDS);
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

/** Marks every copy of `RpcError` alike (see its `Symbol.hasInstance`). */
const RPC_ERROR_BRAND = Symbol.for("exec-server.RpcError");

/** The one error class that becomes a JSON-RPC error; services throw it, dispatch converts it. */
export class RpcError extends Error {
  static {
    Object.defineProperty(this.prototype, RPC_ERROR_BRAND, { value: true });
  }

  /**
   * `instanceof RpcError` holds for an RpcError of any copy of this class: the package's two
   * entries are separate bundles, each with its own, and a program that gets its environment from
   * one and the class from the other must still recognize the errors.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== RpcError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null &&
      (value as Record<symbol, unknown>)[RPC_ERROR_BRAND] === true;
  }

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

/**
 * An RpcError for an answer to a request: the constructor's error without a stack trace, since
 * `Error`'s constructor is not run. Under Deno that constructor costs 5–10 µs at the depth of a
 * request's handler, `Error.stackTraceLimit = 0` or not (Bun: 0.3 µs), which was about 15 µs of a
 * Deno server's CPU per sequential error answer. A remote client gets no stack of the server's
 * either; its own `RpcError` (`fromWireError`) is built by the constructor.
 */
export function answerError(
  code: ErrorCodeValue,
  kind: ErrorKind,
  message: string,
  options: { errno?: string; cause?: unknown } = {},
): RpcError {
  // The prototype is RpcError's, so the error is an RpcError and an Error, with toWire().
  const error = Object.create(RpcError.prototype) as RpcError;
  // As Error's constructor makes them: own, not enumerable.
  Object.defineProperty(error, "message", { value: message, writable: true, configurable: true });
  if (options.cause !== undefined) {
    Object.defineProperty(error, "cause", { value: options.cause, writable: true, configurable: true });
  }
  return Object.assign(error, { name: "RpcError", code, kind, errno: options.errno });
}

/** -32602 with kind InvalidParams. */
export function invalidParams(message: string): RpcError {
  return answerError(ErrorCode.InvalidParams, "InvalidParams", message);
}

/** -32600 with the given kind. */
export function invalidRequest(kind: ErrorKind, message: string): RpcError {
  return answerError(ErrorCode.InvalidRequest, kind, message);
}

/** The `error` member of a reply as a client reads it: servers other than this one may omit `data`. */
const ReplyErrorSchema = z.object({
  code: z.number().int(),
  message: z.string(),
  data: z.object({ kind: z.string(), errno: z.string().optional() }).nullish(),
});

/** The kind a code stands for when a reply names none (a Codex server sends no `data`). */
const KIND_OF_CODE: Record<ErrorCodeValue, ErrorKind> = {
  [ErrorCode.InvalidRequest]: "InvalidInput",
  [ErrorCode.MethodNotFound]: "MethodNotFound",
  [ErrorCode.InvalidParams]: "InvalidParams",
  [ErrorCode.Internal]: "Internal",
  [ErrorCode.NotFound]: "NotFound",
  [ErrorCode.SessionAttached]: "SessionAttached",
  [ErrorCode.LimitReached]: "LimitReached",
};

function isErrorCode(code: number): code is ErrorCodeValue {
  return Object.hasOwn(KIND_OF_CODE, code);
}

function isErrorKind(kind: string): kind is ErrorKind {
  return (ERROR_KINDS as readonly string[]).includes(kind);
}

/**
 * The `RpcError` a reply's `error` member stands for, so a remote call fails exactly as the same
 * call made in-process does: code, kind, message and errno as sent. A code outside §2.7 becomes
 * -32603 with the code in the message; a malformed member becomes -32603 `invalid error reply`.
 */
export function fromWireError(error: unknown): RpcError {
  const parsed = ReplyErrorSchema.safeParse(error);
  if (!parsed.success) return new RpcError(ErrorCode.Internal, "Internal", "invalid error reply");
  const { code, message, data } = parsed.data;
  if (!isErrorCode(code)) {
    return new RpcError(ErrorCode.Internal, "Internal", `${message} (error code ${code})`);
  }
  const kind = data != null && isErrorKind(data.kind) ? data.kind : KIND_OF_CODE[code];
  const errno = data?.errno;
  return new RpcError(code, kind, message, errno === undefined ? {} : { errno });
}
