import { ErrorCode, invalidRequest, RpcError } from "../protocol/mod.ts";
import type { MethodFamily, MethodSpec } from "../protocol/mod.ts";
import { InitializeParamsSchema } from "../protocol/mod.ts";
import { classifyMessage, errorFrame, parseParams, resultFrame, toWireError } from "../rpc/mod.ts";
import type { RequestId } from "../rpc/mod.ts";
import { BACKLOG_HIGH_BYTES, BACKLOG_LOW_BYTES } from "./session.ts";
import type { Session, SessionPeer } from "./session.ts";
import type { FsPort, ServerContext } from "./server_context.ts";
import { runMethod } from "./handlers.ts";

/** The byte pipe under a connection: a WebSocket or the stdio streams. */
export interface Transport {
  send(text: string): void;
  /** Unsent outbound bytes. */
  backlog(): number;
  close(code: number, reason: string): void;
  /** Used in parse-error messages: `websocket <ip:port>` or `stdio`. */
  readonly description: string;
}

type ConnectionState = "new" | "initializing" | "ready";

/** Close status for protocol violations (§2.4). */
const POLICY_VIOLATION = 1008;
const EVICTED_MESSAGE = "session has been resumed by another connection";

/**
 * One client connection: the handshake state machine, the in-flight table and dispatch
 * (PROTOCOL.md §2.4–2.5, §3.1). Until `ready`, messages run strictly one after another.
 */
export class Connection implements SessionPeer {
  readonly #transport: Transport;
  readonly #context: ServerContext;
  #state: ConnectionState = "new";
  #jsonrpc: boolean | null = null;
  #session: Session | null = null;
  #inflight = new Map<string, AbortController>();
  #sequential: Promise<void> = Promise.resolve();
  #queued = 0;
  #closed = false;
  #evicted = false;
  #fs: FsPort | null = null;
  /** Resolved when the outbound backlog falls below the low mark, or the transport goes away. */
  #drain: PromiseWithResolvers<void> | null = null;

  constructor(transport: Transport, context: ServerContext) {
    this.#transport = transport;
    this.#context = context;
  }

  /** Handles one incoming message (a frame's text or a line). */
  receive(text: string): void {
    if (this.#closed) return;
    if (this.#state === "ready" && this.#queued === 0 && !this.#congested()) {
      void this.#handle(text);
      return;
    }
    this.#queued++;
    this.#sequential = this.#sequential.then(async () => {
      // A client that stops reading while it keeps sending would otherwise have every reply
      // (a 1 MiB process/read, a file) buffered without bound: hold its requests, in order,
      // until it drains what it was sent (§5.12 applies the same marks to output).
      if (this.#congested()) await this.#drained();
      this.#queued--;
      if (this.#closed) return;
      const pending = this.#handle(text);
      if (this.#state !== "ready") await pending;
    });
  }

  /** Answers a message that could not be decoded at all (bad UTF-8, oversize stdio line). */
  receiveUndecodable(detail: string): void {
    this.#sendParseError(detail);
  }

  /** The transport is gone: release long polls, close handles, detach the session (§3.6). */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#openDrain();
    for (const controller of this.#inflight.values()) controller.abort(new Error("connection closed"));
    this.#inflight.clear();
    void this.#fs?.close().catch((error: unknown) =>
      this.#context.log.error("closing file handles failed", error)
    );
    if (this.#session !== null) {
      this.#context.registry.detach(this.#session, this);
      this.#context.log.info("connection closed", { sessionId: this.#session.id });
    }
  }

  /** The transport's outbound buffer drained. */
  drained(): void {
    if (this.#transport.backlog() < BACKLOG_LOW_BYTES) this.#openDrain();
    this.#session?.drained(this);
  }

  /** SessionPeer: sends a notification with pre-serialized params. */
  notify(method: string, paramsJson: string): void {
    if (this.#closed) return;
    const prefix = this.#jsonrpc === true
      ? `{"jsonrpc":"2.0","method":"${method}","params":`
      : `{"method":"${method}","params":`;
    this.#transport.send(prefix + paramsJson + "}");
  }

  /** SessionPeer: unsent outbound bytes. */
  backlog(): number {
    return this.#transport.backlog();
  }

  /** SessionPeer: another connection resumed this session (§3.7). */
  evict(): void {
    this.#evicted = true;
    const error = invalidRequest("SessionResumed", EVICTED_MESSAGE);
    for (const controller of this.#inflight.values()) controller.abort(error);
    if (!this.#closed) this.#transport.close(POLICY_VIOLATION, EVICTED_MESSAGE);
  }

  #congested(): boolean {
    return this.#transport.backlog() > BACKLOG_HIGH_BYTES;
  }

  #drained(): Promise<void> {
    this.#drain ??= Promise.withResolvers<void>();
    return this.#drain.promise;
  }

  #openDrain(): void {
    const drain = this.#drain;
    this.#drain = null;
    drain?.resolve();
  }

  async #handle(text: string): Promise<void> {
    const message = classifyMessage(text);
    if (message.kind === "parseError") {
      this.#sendParseError(message.detail);
      return;
    }
    this.#jsonrpc ??= message.jsonrpc;
    switch (message.kind) {
      case "response":
        this.#transport.close(POLICY_VIOLATION, "clients must not send responses");
        return;
      case "notification":
        this.#notification(message.method);
        return;
      case "request":
        await this.#request(message.id, message.method, message.params);
        return;
      default:
        return assertNever(message);
    }
  }

  #notification(method: string): void {
    if (method !== "initialized") {
      this.#transport.close(POLICY_VIOLATION, `unexpected notification ${method}`);
    } else if (this.#state === "initializing") {
      this.#state = "ready";
    } else if (this.#state === "new") {
      this.#transport.close(POLICY_VIOLATION, "initialized before initialize");
    }
  }

  async #request(id: RequestId, method: string, params: unknown): Promise<void> {
    const key = typeof id === "string" ? `s${id}` : `n${id}`;
    if (this.#inflight.has(key)) {
      this.#reply(
        id,
        null,
        invalidRequest("DuplicateRequestId", `request id ${idText(id)} is already in use`),
      );
      return;
    }
    const controller = new AbortController();
    this.#inflight.set(key, controller);
    const release = method === "process/start" ? this.#holdStartNotifications(params) : null;
    try {
      const result = await this.#run(method, params, controller.signal);
      this.#reply(id, result, null);
    } catch (error) {
      this.#reply(id, null, error);
    } finally {
      if (this.#inflight.get(key) === controller) this.#inflight.delete(key);
      release?.();
    }
  }

  /** Holds the new process's notifications until its start result is sent (§5.5). */
  #holdStartNotifications(params: unknown): (() => void) | null {
    if (this.#session === null || this.#state !== "ready" || typeof params !== "object" || params === null) {
      return null;
    }
    const processId: unknown = (params as Record<string, unknown>)["processId"];
    return typeof processId === "string" ? this.#session.holdNotifications(processId) : null;
  }

  /** Checks in the order of §2.4, then runs the method. Synchronous up to the handler's first await. */
  #run(method: string, params: unknown, signal: AbortSignal): Promise<unknown> {
    const spec: MethodSpec | undefined = this.#context.methods.get(method);
    if (spec === undefined) {
      throw new RpcError(ErrorCode.MethodNotFound, "MethodNotFound", `unknown method ${method}`);
    }
    if (this.#evicted) throw invalidRequest("SessionResumed", EVICTED_MESSAGE);
    if (method === "initialize") {
      if (this.#state !== "new") {
        throw invalidRequest("AlreadyInitialized", "initialize may only be sent once per connection");
      }
    } else if (this.#state !== "ready") {
      throw invalidRequest("NotInitialized", handshakeMessage(this.#state, spec.family));
    }
    const limit = this.#context.options.maxInflightRequests;
    if (this.#inflight.size > limit) {
      throw new RpcError(
        ErrorCode.LimitReached,
        "LimitReached",
        `too many requests in flight: limit is ${limit}`,
      );
    }
    if (method === "initialize") {
      return Promise.resolve(this.#initialize(parseParams(method, InitializeParamsSchema, params)));
    }
    const session = this.#session;
    if (session === null) throw invalidRequest("NotInitialized", handshakeMessage("new", spec.family));
    const parsed: unknown = parseParams(method, spec.params, params);
    return runMethod(method, parsed, { session, context: this.#context, fs: this.#fs, signal });
  }

  #initialize(params: { clientName: string; resumeSessionId?: string | null | undefined }): unknown {
    const registry = this.#context.registry;
    const resumed = params.resumeSessionId != null;
    const session = params.resumeSessionId != null
      ? registry.resume(params.resumeSessionId, this)
      : registry.create(this);
    this.#session = session;
    this.#state = "initializing";
    this.#context.log.info(resumed ? "session resumed" : "session created", {
      sessionId: session.id,
      client: params.clientName.slice(0, 128),
      transport: this.#transport.description,
    });
    this.#fs = this.#context.openFsConnection(session.id);
    return { sessionId: session.id, environmentInfo: this.#context.environmentInfo };
  }

  #reply(id: RequestId, result: unknown, error: unknown): void {
    if (this.#closed) return;
    const jsonrpc = this.#jsonrpc === true;
    if (error === null) {
      this.#context.countReply(null);
      this.#transport.send(resultFrame(id, result, jsonrpc));
    } else {
      const wire = toWireError(error, this.#context.log.error);
      this.#context.countReply(wire.code);
      this.#transport.send(errorFrame(id, wire, jsonrpc));
    }
  }

  #sendParseError(detail: string): void {
    const prefix = this.#transport.description === "stdio"
      ? "failed to parse JSON-RPC message from exec-server stdio"
      : `failed to parse websocket JSON-RPC message from exec-server ${this.#transport.description}`;
    const error = new RpcError(ErrorCode.InvalidRequest, "ParseError", `${prefix}: ${detail}`);
    this.#transport.send(errorFrame(-1, error.toWire(), this.#jsonrpc === true));
  }
}

function handshakeMessage(state: ConnectionState, family: MethodFamily): string {
  return state === "new"
    ? `client must call initialize before using ${family} methods`
    : `client must send initialized before using ${family} methods`;
}

function idText(id: RequestId): string {
  return typeof id === "string" ? JSON.stringify(id) : String(id);
}

function assertNever(value: never): never {
  throw new TypeError(`unexpected value ${String(value)}`);
}
