import { ErrorCode, invalidRequest, RpcError } from "../protocol/mod.ts";
import { toWireError } from "./dispatch.ts";
import type { ErrorLog } from "./dispatch.ts";
import {
  binaryFrame,
  classifyMessage,
  classifyValue,
  errorFrame,
  notificationJsonFrame,
  rawBytesOf,
  requestFrame,
  resultFrame,
} from "./framing.ts";
import type { Incoming, RequestId } from "./framing.ts";
import type { MethodShape, Route, Routes } from "./method_table.ts";
import { RequestTooLarge, utf8LengthAbove } from "./request_too_large.ts";

/** What the engine writes to: one JSON message per `send`. */
export interface RpcTransport {
  /** Sends one message's JSON text. */
  send(text: string): void;
  /**
   * Sends a result that is raw bytes (a handler returned a `Uint8Array`). Only a transport that
   * can carry bytes beside its JSON (the fs worker's pipe) has it.
   */
  sendBytes?(id: RequestId, bytes: Uint8Array): void;
  /** Sends one binary message (a WebSocket's binary frame, §11.12). */
  sendBinary?(frame: Uint8Array): void;
}

/** One request being served: its cancellation and what runs once its reply has been sent. */
export class InboundCall {
  // Made on first use: most requests never look at their signal, and one per request cost a Bun
  // server about 4 µs of CPU per sequential error answer (of some 35).
  #controller: AbortController | null = null;
  #afterReply: Array<() => void> | null = null;

  /** Aborted when the peer closes or the request is withdrawn (`RpcPeer.abortInbound`). */
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  /** Runs `action` right after the reply is sent (or dropped because the peer closed). */
  afterReply(action: () => void): void {
    (this.#afterReply ??= []).push(action);
  }

  /** Aborts the request's signal. */
  abort(reason: unknown): void {
    (this.#controller ??= new AbortController()).abort(reason);
  }

  /** Called by the engine once the reply is out. */
  replied(): void {
    const actions = this.#afterReply;
    this.#afterReply = null;
    if (actions !== null) { for (const action of actions) action(); }
  }
}

/** How a peer serves requests: its routes, the context handlers see, and checks before params. */
export interface RpcServe<C, S extends MethodShape> {
  readonly routes: Routes<C, S>;
  /** Builds what a handler sees for one request. */
  context(call: InboundCall): C;
  /** Refuses a request to a known method before its params are parsed, by throwing (§2.4 order). */
  admit?(route: Route<C, S>): void;
}

/** Options of an `RpcPeer`. */
export interface RpcPeerOptions<C, S extends MethodShape> {
  readonly transport: RpcTransport;
  /** Present when this peer serves requests; a peer without it answers every request -32601. */
  readonly serve?: RpcServe<C, S>;
  /** Incoming notifications. */
  readonly onNotification?: (method: string, params: unknown) => void;
  /** A response that answers no call of this peer (on a server: a client sent a response). */
  readonly onStrayResponse?: (message: Extract<Incoming, { kind: "response" }>) => void;
  /**
   * The message of the reply (id -1, -32600 ParseError) to a message that cannot be classified;
   * without it such messages are reported to `log` and dropped.
   */
  readonly parseErrorMessage?: (detail: string) => string;
  /** Whether sent messages carry `"jsonrpc":"2.0"`; "mirror" copies the peer's first message (§2.2). */
  readonly jsonrpc: boolean | "mirror";
  /** Receives unexpected errors with their detail (they reach the wire as -32603 `internal error`). */
  readonly log: ErrorLog;
  /** Counts each reply: null for a result, else the error code. */
  readonly onReply?: (errorCode: number | null) => void;
  /** Turns the `error` member of a reply into what the call rejects with. */
  readonly remoteError: (error: unknown) => Error;
  /**
   * The largest reply this peer sends, since the other end holds messages to a limit of its own
   * and drops the connection past it: a larger reply is not sent, and `oversizeReply`'s error
   * goes in its place. A text reply is
   * measured in UTF-16 units, which are its bytes for base64 and ASCII. None: no limit.
   */
  readonly maxReplyBytes?: number;
  /** The error in place of a reply of `method` that is `bytes` long, over `maxReplyBytes`. */
  readonly oversizeReply?: (method: string, bytes: number) => unknown;
}

/** A request being served, as `#settle` needs it. */
interface Served {
  readonly id: RequestId;
  readonly method: string;
  /** Its key in `#inbound`. */
  readonly key: string;
  readonly call: InboundCall;
  /** What it adds to `#inboundIdChars`. */
  readonly idChars: number;
}

interface PendingCall {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The JSON-RPC engine of both ends (PROTOCOL.md §2): it classifies incoming messages, serves
 * requests from a method table (one in-flight entry per id, an `AbortSignal` each, the one place
 * where a thrown error becomes a wire error), matches responses to its own calls, and writes
 * results, errors, requests and notifications. Transports and handshakes live around it.
 */
export class RpcPeer<C = never, S extends MethodShape = MethodShape> {
  readonly #options: RpcPeerOptions<C, S>;
  readonly #transport: RpcTransport;
  readonly #inbound = new Map<string, InboundCall>();
  /** The characters of the string ids in `#inbound`: each is kept until its reply. */
  #inboundIdChars = 0;
  readonly #outbound = new Map<number, PendingCall>();
  #nextId = 1;
  #jsonrpc: boolean | null;
  #closed = false;
  #closedReason: unknown = null;
  #idle: PromiseWithResolvers<void> | null = null;
  #requestLimit: number | null = null;

  constructor(options: RpcPeerOptions<C, S>) {
    this.#options = options;
    this.#transport = options.transport;
    this.#jsonrpc = options.jsonrpc === "mirror" ? null : options.jsonrpc;
  }

  /** Requests being served. */
  get inflight(): number {
    return this.#inbound.size;
  }

  /** The characters of the string ids of the requests being served (a number's count as none). */
  get inflightIdChars(): number {
    return this.#inboundIdChars;
  }

  /** Whether `close` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Handles one message's text. Resolves once it has been handled (a request: after its reply),
   * and dispatches synchronously up to the handler's first await.
   */
  receive(text: string): Promise<void> {
    return this.#handleSafely(classifyMessage(text));
  }

  /** Handles one message that a framed transport has already parsed. */
  receiveValue(value: unknown): Promise<void> {
    return this.#handleSafely(classifyValue(value));
  }

  /** Answers a message that could not be decoded at all (bad UTF-8, an oversize line). */
  replyParseError(detail: string): void {
    const message = this.#options.parseErrorMessage;
    if (message === undefined) {
      this.#options.log("undecodable message", new Error(detail));
      return;
    }
    const error = new RpcError(ErrorCode.InvalidRequest, "ParseError", message(detail));
    if (!this.#closed) this.#transport.send(errorFrame(-1, error.toWire(), this.#jsonrpc === true));
  }

  /** From now on, `call` refuses a request whose text takes more than `bytes` of UTF-8. */
  limitRequests(bytes: number): void {
    this.#requestLimit = bytes;
  }

  /**
   * Sends a request and resolves with the `result` of its reply, or rejects with `remoteError` of
   * its `error`, with `signal`'s reason when it aborts first, with the reason `close` gives, or
   * with `RequestTooLarge` (unsent) past `limitRequests`.
   */
  call(method: string, params: unknown, signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closedReason);
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const id = this.#nextId++;
    const frame = requestFrame(id, method, params, this.#jsonrpc === true);
    const limit = this.#requestLimit;
    const bytes = limit === null ? null : utf8LengthAbove(frame, limit);
    if (limit !== null && bytes !== null) return Promise.reject(new RequestTooLarge(method, bytes, limit));
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    if (signal === undefined) {
      this.#outbound.set(id, { resolve, reject });
    } else {
      const onAbort = (): void => {
        this.#outbound.delete(id);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#outbound.set(id, {
        resolve: (result) => {
          signal.removeEventListener("abort", onAbort);
          resolve(result);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      });
    }
    this.#transport.send(frame);
    return promise;
  }

  /**
   * Rejects the call that waits for the reply with `id` with `error`: its reply came, but could not
   * be read as one. False when no call waits for that id.
   */
  failCall(id: number, error: unknown): boolean {
    const pending = this.#outbound.get(id);
    if (pending === undefined) return false;
    this.#outbound.delete(id);
    pending.reject(error);
    return true;
  }

  /** Sends a notification. */
  notify(method: string, params: unknown): void {
    if (this.#closed) return;
    this.#transport.send(
      this.#jsonrpc === true
        ? JSON.stringify({ jsonrpc: "2.0", method, params })
        : JSON.stringify({ method, params }),
    );
  }

  /** Sends a notification whose params are already JSON (the hot path: output chunks). */
  notifyJson(method: string, paramsJson: string): void {
    if (this.#closed) return;
    this.#transport.send(notificationJsonFrame(method, paramsJson, this.#jsonrpc === true));
  }

  /**
   * Sends a notification as a binary frame (§11.12): `headerParamsJson` is its params with
   * `byteLength` in place of the base64 member, `payload` the bytes. The frame is a copy, so the
   * caller may reuse `payload` once this returns.
   */
  notifyBinary(method: string, headerParamsJson: string, payload: Uint8Array): void {
    if (this.#closed) return;
    const transport = this.#transport;
    if (transport.sendBinary === undefined) throw new TypeError("this transport cannot send binary frames");
    const header = notificationJsonFrame(method, headerParamsJson, this.#jsonrpc === true);
    transport.sendBinary(binaryFrame(header, { bytes: payload, headroom: 0 }));
  }

  /** Aborts every request being served with `reason`; their handlers decide what to answer. */
  abortInbound(reason: unknown): void {
    for (const call of this.#inbound.values()) call.abort(reason);
  }

  /**
   * Ends the peer: requests being served are aborted and their replies dropped, and calls waiting
   * for a reply reject with `reason`. Idempotent.
   */
  close(reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedReason = reason;
    for (const call of this.#inbound.values()) call.abort(reason);
    this.#inbound.clear();
    this.#inboundIdChars = 0;
    this.#wakeIdle();
    const pending = [...this.#outbound.values()];
    this.#outbound.clear();
    for (const call of pending) call.reject(reason);
  }

  /** Resolves once no request is being served. */
  idle(): Promise<void> {
    if (this.#inbound.size === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /**
   * `#handle`, with what a notification or response handler throws rejecting the promise returned:
   * callers pass `receive`'s promise on (or drop it to the runtime's unhandled-rejection report)
   * and never expect it to throw.
   */
  #handleSafely(message: Incoming): Promise<void> {
    try {
      return this.#handle(message);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #handle(message: Incoming): Promise<void> {
    if (message.kind === "parseError") {
      this.replyParseError(message.detail);
      return DONE;
    }
    this.#jsonrpc ??= message.jsonrpc;
    switch (message.kind) {
      case "response":
        this.#response(message);
        return DONE;
      case "notification":
        this.#options.onNotification?.(message.method, message.params);
        return DONE;
      case "request":
        return this.#request(message.id, message.method, message.params);
      default:
        return assertNever(message);
    }
  }

  #response(message: Extract<Incoming, { kind: "response" }>): void {
    const pending = typeof message.id === "number" ? this.#outbound.get(message.id) : undefined;
    if (pending === undefined) {
      if (this.#options.onStrayResponse === undefined) {
        this.#options.log("response to no pending call", new Error(`id ${String(message.id)}`));
      } else {
        this.#options.onStrayResponse(message);
      }
      return;
    }
    // The id is a number: `pending` was found by it.
    this.#outbound.delete(message.id as number);
    if (message.error !== undefined) pending.reject(this.#options.remoteError(message.error));
    else pending.resolve(message.result);
  }

  /**
   * Serves one request. A handler that answers or fails without awaiting is replied to at once,
   * in this turn: no promise is made for it (a sequential error answer went through four async
   * frames that rejected one after another).
   */
  #request(id: RequestId, method: string, params: unknown): Promise<void> {
    const key = typeof id === "string" ? `s${id}` : `n${id}`;
    if (this.#inbound.has(key)) {
      this.#replyError(
        id,
        invalidRequest("DuplicateRequestId", `request id ${idText(id)} is already in use`),
      );
      return DONE;
    }
    const call = new InboundCall();
    const idChars = typeof id === "string" ? id.length : 0;
    this.#inbound.set(key, call);
    this.#inboundIdChars += idChars;
    const served: Served = { id, method, key, call, idChars };
    let result: unknown;
    try {
      result = this.#run(method, params, call);
    } catch (error) {
      return this.#settleNow(served, false, error);
    }
    if (!isPromiseLike(result)) return this.#settleNow(served, true, result);
    return Promise.resolve(result).then(
      (value) => this.#settle(served, true, value),
      (error: unknown) => this.#settle(served, false, error),
    );
  }

  /** `#settle` in this turn; what it throws rejects the promise returned, as an async reply's would. */
  #settleNow(served: Served, ok: boolean, outcome: unknown): Promise<void> {
    try {
      this.#settle(served, ok, outcome);
      return DONE;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Sends the reply of a request, its result or (`ok` false) its error; what making the reply
   * throws becomes its error reply. Then forgets the request and runs what waits for its reply.
   */
  #settle(served: Served, ok: boolean, outcome: unknown): void {
    const { id, key, call } = served;
    try {
      if (ok) this.#reply(id, served.method, outcome);
      else this.#replyError(id, outcome);
    } catch (error) {
      this.#replyError(id, error);
    } finally {
      if (this.#inbound.get(key) === call) {
        this.#inbound.delete(key);
        this.#inboundIdChars -= served.idChars;
      }
      call.replied();
      if (this.#inbound.size === 0) this.#wakeIdle();
    }
  }

  /** Finds the route, lets `admit` refuse, then parses and runs; synchronous up to the handler's await. */
  #run(method: string, params: unknown, call: InboundCall): unknown {
    const serve = this.#options.serve;
    const route = serve?.routes.get(method);
    if (serve === undefined || route === undefined) {
      throw new RpcError(ErrorCode.MethodNotFound, "MethodNotFound", `unknown method ${method}`);
    }
    serve.admit?.(route);
    return route.run(params, serve.context(call));
  }

  #reply(id: RequestId, method: string, result: unknown): void {
    if (this.#closed) return;
    if (result instanceof Uint8Array) {
      if (this.#transport.sendBytes === undefined) throw new TypeError("this transport cannot send bytes");
      this.#options.onReply?.(null);
      this.#transport.sendBytes(id, result);
      return;
    }
    const raw = rawBytesOf(result);
    if (raw !== undefined && this.#transport.sendBinary !== undefined) {
      const header = resultFrame(id, { byteLength: raw.bytes.byteLength }, this.#jsonrpc === true);
      const frame = binaryFrame(header, raw);
      if (this.#oversize(frame.byteLength)) {
        this.#replyError(id, this.#oversizeError(method, frame.byteLength));
        return;
      }
      this.#options.onReply?.(null);
      this.#transport.sendBinary(frame);
      return;
    }
    const text = resultFrame(id, result, this.#jsonrpc === true);
    if (this.#oversize(text.length)) {
      this.#replyError(id, this.#oversizeError(method, text.length));
      return;
    }
    this.#options.onReply?.(null);
    this.#transport.send(text);
  }

  #oversize(bytes: number): boolean {
    const limit = this.#options.maxReplyBytes;
    return limit !== undefined && bytes > limit;
  }

  #oversizeError(method: string, bytes: number): unknown {
    return this.#options.oversizeReply?.(method, bytes) ?? new RpcError(
      ErrorCode.LimitReached,
      "LimitReached",
      `${method} reply of ${bytes} bytes is over the reply limit of ${this.#options.maxReplyBytes} bytes`,
    );
  }

  #replyError(id: RequestId, error: unknown): void {
    if (this.#closed) return;
    const wire = toWireError(error, this.#options.log);
    this.#options.onReply?.(wire.code);
    this.#transport.send(errorFrame(id, wire, this.#jsonrpc === true));
  }

  #wakeIdle(): void {
    const idle = this.#idle;
    this.#idle = null;
    idle?.resolve();
  }
}

/** What `#handle` returns for a message handled in full before it returns. */
const DONE: Promise<void> = Promise.resolve();

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

function idText(id: RequestId): string {
  return typeof id === "string" ? JSON.stringify(id) : String(id);
}

function assertNever(value: never): never {
  throw new TypeError(`unexpected value ${String(value)}`);
}
