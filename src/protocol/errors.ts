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
export type ErrorKind =
  | "ParseError"
  | "NotInitialized"
  | "AlreadyInitialized"
  | "DuplicateRequestId"
  | "UnknownSession"
  | "SessionAttached"
  | "SessionResumed"
  | "UnknownProcess"
  | "ProcessExists"
  | "ProcessStarting"
  | "NoTerminal"
  | "MethodNotFound"
  | "InvalidParams"
  | "Unenforceable"
  | "SpawnFailed"
  | "WorkerFailed"
  | "Internal"
  | "LimitReached"
  | "NotFound"
  | "UnknownHandle"
  | "PermissionDenied"
  | "InvalidInput"
  | "AlreadyExists"
  | "NotADirectory"
  | "IsADirectory"
  | "DirectoryNotEmpty"
  | "ReadOnlyFilesystem"
  | "OsError";

/** The error object as it travels on the wire. */
export interface WireError {
  code: number;
  message: string;
  data?: { kind: ErrorKind; errno?: string };
}

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
