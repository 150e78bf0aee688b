import type { MethodName, METHODS } from "../protocol/mod.ts";
import type { ParamsInputOf, ResultOf } from "../rpc/mod.ts";
import type { ClientError } from "./client_error.ts";
import type { ProcessNotification } from "./process_notification.ts";

/** A method a client may call (`initialize` belongs to the connection). */
export type CallableMethod = Exclude<MethodName, "initialize">;
/** The process methods. */
export type ExecMethod = Extract<CallableMethod, `process/${string}`>;
/** What a caller sends for method `M`. */
export type CallParams<M extends MethodName> = ParamsInputOf<typeof METHODS, M>;
/** What method `M` answers. */
export type CallResult<M extends MethodName> = ResultOf<typeof METHODS, M>;

/**
 * Per-call options. Both abandon the wait for the answer, not the request: one already sent may
 * still take effect on the server.
 */
export interface CallOptions {
  /** Abandons the call; it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Abandons the call after this many ms with `ClientError` `timeout`. */
  readonly timeoutMs?: number;
}

/** Receives one process's notifications (never another process's: they are demultiplexed per id). */
export interface ProcessSubscriber {
  /** One notification of the process, in the order the backend received it. */
  notification(notification: ProcessNotification): void;
  /** The transport was lost and the session resumed: notifications may have been missed. */
  resumed(): void;
  /** The session is gone; nothing more will arrive. */
  lost(error: ClientError): void;
}

/**
 * Where processes run: the server through an `ExecServerClient`, or this process's own table.
 * `ProcessHandle` is written against this, so Local and Remote handles are the same code.
 */
export interface ExecBackend {
  call<M extends ExecMethod>(method: M, params: CallParams<M>, options?: CallOptions): Promise<CallResult<M>>;
  /** Routes `processId`'s notifications to `subscriber` until the returned function is called. */
  subscribe(processId: string, subscriber: ProcessSubscriber): () => void;
}
