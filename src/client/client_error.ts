/** Why a client-side operation failed without an answer from the server. */
export type ClientErrorReason =
  /** The client was closed, or never connected. */
  | "notConnected"
  /** The transport went away and the call cannot be retried (see `outcomeUnknown`). */
  | "connectionClosed"
  /** The call's `timeoutMs` passed first. */
  | "timeout"
  /** The session cannot be resumed: it expired, or another connection took it (-32010). */
  | "sessionLost"
  /** The transport died with the request in flight, and repeating it is not safe. */
  | "outcomeUnknown"
  /** The request is larger than the server takes (`extensions.limits.maxMessageBytes`); it was not sent. */
  | "tooLarge"
  /** The server answered with something that is not what the protocol allows. */
  | "badReply"
  /** The environment has exec or fs disabled (`EXEC_SERVER_URL=none`). */
  | "disabled";

/** Marks every copy of the class alike (see `Symbol.hasInstance` below). */
const BRAND = Symbol.for("exec-server.ClientError");

/**
 * A failure on the client's side of the wire: no server produced it, and it never travels. Errors
 * the server answered with are `RpcError`s, with their code, kind and errno as sent.
 */
export class ClientError extends Error {
  static {
    Object.defineProperty(this.prototype, BRAND, { value: true });
  }

  /**
   * `instanceof ClientError` holds for a ClientError of any copy of this class: the package's two
   * entries are separate bundles, each with its own, and a program that gets its environment from
   * one and the class from the other must still recognize the errors.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ClientError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  readonly reason: ClientErrorReason;

  constructor(reason: ClientErrorReason, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ClientError";
    this.reason = reason;
  }
}
