import type { z } from "zod";
import { ErrorCode, METHODS, RpcError } from "../protocol/mod.ts";
import { RequestTooLarge } from "../rpc/mod.ts";
import type { EnvironmentInfo, InitializeResult, MethodName } from "../protocol/mod.ts";
import { withCallOptions } from "./call_signal.ts";
import { ClientError } from "./client_error.ts";
import type {
  CallableMethod,
  CallOptions,
  CallParams,
  CallResult,
  ExecBackend,
  ProcessSubscriber,
} from "./exec_backend.ts";
import { openSession } from "./handshake.ts";
import { parseNotification } from "./process_notification.ts";
import { repeatIsInDoubt, replayPolicy } from "./replay_policy.ts";
import type { RepeatAnswer } from "./replay_policy.ts";
import { SubscriberTable } from "./subscriber_table.ts";
import { TransportLost } from "./web_socket_link.ts";
import type { WebSocketLink } from "./web_socket_link.ts";
import type { CloseInfo } from "./web_socket_link.ts";

/** Options of `ExecServerClient.connect`. */
export interface ExecServerClientOptions {
  /** The capability token of a server started with `--ws-auth capability-token` (§1.4). */
  readonly token?: string;
  /** Abandons the first connection attempt. */
  readonly signal?: AbortSignal;
  /** Sent in `initialize`; the server only logs it. Default `exec-server-client`. */
  readonly clientName?: string;
  /** Reconnect and resume the session when the transport is lost (default true). */
  readonly reconnect?: boolean;
  /** How long reconnection keeps trying before the session counts as lost (default 60,000 ms). */
  readonly reconnectTimeoutMs?: number;
  /**
   * How long a resume answered -32010 (the session is still attached) is retried before the
   * session counts as taken by another connection. A server notices a silently dropped peer only
   * at its idle timeout (30 s, §1.6), hence the default of 35,000 ms.
   */
  readonly attachedGraceMs?: number;
  /**
   * How long one WebSocket upgrade, and then its `initialize`, may each take (default 10,000 ms);
   * a reconnection's attempts also end by its `reconnectTimeoutMs`.
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long the connection may be silent before the client asks the server something
   * (`environment/info`); when nothing has arrived once more as long after that, the connection
   * counts as lost and is resumed on a new one (default 15,000 ms). A dead peer or network path
   * can leave a socket open for hours, and a browser cannot send WebSocket pings.
   */
  readonly livenessMs?: number;
  /**
   * Asks for file bytes and process output in binary frames (PROTOCOL.md §11.12), which spare
   * both sides base64 and a third of the bytes (default true). A server without them answers
   * in text as before.
   */
  readonly binaryFrames?: boolean;
}

type ClientState = "open" | "reconnecting" | "closed" | "lost";

const FIRST_RETRY_MS = 25;
/** How long a closed process stays known to a server that does not say (PROTOCOL.md §3.9). */
const DEFAULT_PROCESS_RETENTION_MS = 30_000;
/** How many connections a call may see lost before it is not sent again. */
const MAX_LOSSES_PER_CALL = 3;
const MAX_RETRY_MS = 1_000;
/** How long `close` waits for the server to answer the close before it stops waiting. */
const CLOSE_WAIT_MS = 1_000;
const DEFAULTS = {
  clientName: "exec-server-client",
  reconnect: true,
  reconnectTimeoutMs: 60_000,
  attachedGraceMs: 35_000,
  connectTimeoutMs: 10_000,
  livenessMs: 15_000,
  binaryFrames: true,
};

/** Each method's result schema, seen as producing that method's result. */
const RESULTS: { readonly [M in MethodName]: { readonly result: z.ZodType<CallResult<M>> } } = METHODS;

/**
 * A JSON-RPC client of exec-server over WebSocket (PROTOCOL.md), needing nothing but the global
 * `WebSocket`. Calls are typed by the method table and their results validated with its schemas;
 * errors the server answers are `RpcError`s (code, kind, errno as sent), failures of this side
 * are `ClientError`s. Process notifications go to the one subscriber of their process id. When the
 * transport is lost it reconnects with backoff and resumes the session; calls in flight are sent
 * again only where that is safe (see `replay_policy.ts`), and subscribers are told to catch up.
 *
 * @example
 * ```ts
 * await using client = await ExecServerClient.connect("ws://127.0.0.1:8765");
 * const { entries } = await client.call("fs/readDirectory", { path: "/srv/app" });
 * ```
 */
export class ExecServerClient implements ExecBackend, AsyncDisposable {
  readonly url: string;
  readonly #options: ExecServerClientOptions & typeof DEFAULTS;
  readonly #subscribers = new SubscriberTable();
  #link: WebSocketLink;
  #sessionId: string;
  #environmentInfo: EnvironmentInfo;
  #binaryFrames: boolean;
  #state: ClientState = "open";
  #failure: ClientError | null = null;
  /** Resolves once reconnected; rejects when the session is lost or the client closed. */
  #reconnected: PromiseWithResolvers<WebSocketLink> | null = null;
  readonly #closing = new AbortController();
  readonly #ended = Promise.withResolvers<ClientError>();
  /**
   * The reconnection that made the current link, until that link proves itself: while it has had
   * no message since its handshake and is young, its loss continues that reconnection (its
   * backoff and its deadline) instead of starting afresh.
   */
  #resumed: { link: WebSocketLink; at: number; messages: number; started: number; delay: number } | null =
    null;

  private constructor(
    url: string,
    init: {
      options: ExecServerClientOptions & typeof DEFAULTS;
      link: WebSocketLink;
      session: InitializeResult;
    },
  ) {
    this.url = url;
    this.#options = init.options;
    this.#link = init.link;
    this.#sessionId = init.session.sessionId;
    this.#environmentInfo = init.session.environmentInfo;
    this.#binaryFrames = init.session.binaryFrames === true;
    this.#watch(init.link);
  }

  /** Connects and initializes a new session; rejects with `ClientError` `notConnected` or an RpcError. */
  static async connect(url: string | URL, options: ExecServerClientOptions = {}): Promise<ExecServerClient> {
    const merged = { ...DEFAULTS, ...options };
    const target = String(url);
    // The link exists before the client it reports to.
    let client: ExecServerClient | null = null;
    const { link, session } = await openSession(target, {
      ...sessionOptions(merged),
      // The caller's signal covers the first connection only.
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      resumeSessionId: null,
      onNotification: (method, params, payload) => {
        if (client !== null) client.#notification(method, params, payload);
      },
      onClose: (closing, close) => {
        if (client !== null) client.#linkClosed(closing, close);
      },
    });
    client = new ExecServerClient(target, { options: merged, link, session });
    return client;
  }

  /** The session's id (the same after every resume). */
  get sessionId(): string {
    return this.#sessionId;
  }

  /** The server's `environmentInfo` (§3.3). */
  get environmentInfo(): EnvironmentInfo {
    return this.#environmentInfo;
  }

  /**
   * Why the client can no longer serve: `notConnected` once closed, `sessionLost` or
   * `connectionClosed` once its session is lost for good. Null while it serves (reconnecting
   * included).
   */
  get failure(): ClientError | null {
    return this.#failure;
  }

  /** Resolves with `failure` once the client has ended, closed or lost. */
  get ended(): Promise<ClientError> {
    return this.#ended.promise;
  }

  /** Whether the server sends this connection binary frames (§11.12): asked for, and granted. */
  get binaryFrames(): boolean {
    return this.#binaryFrames;
  }

  /**
   * Calls `method` and resolves with its result, validated by the method's schema. Rejects with
   * the server's `RpcError`, or a `ClientError`: `timeout`, `notConnected` (closed),
   * `sessionLost`, or `outcomeUnknown` (the transport died with a call that is unsafe to repeat).
   */
  async call<M extends CallableMethod>(
    method: M,
    params: CallParams<M>,
    options: CallOptions = {},
  ): Promise<CallResult<M>> {
    return await withCallOptions(
      method,
      options,
      async (signal) => parseResult(method, await this.#callOnce(method, params, signal)),
    );
  }

  /** ExecBackend: routes `processId`'s notifications to `subscriber`. */
  subscribe(processId: string, subscriber: ProcessSubscriber): () => void {
    if (this.#failure !== null) throw this.#failure;
    return this.#subscribers.subscribe(processId, subscriber);
  }

  /**
   * Closes the connection; the session is left to expire on the server (§3.8). Resolves once the
   * server has answered the close, or after a second without an answer.
   */
  close(): Promise<void> {
    if (this.#state === "closed" || this.#state === "lost") return Promise.resolve();
    const error = new ClientError("notConnected", "the client is closed");
    const link = this.#link;
    this.#end("closed", error);
    // A peer that is gone without a close never answers the close: the wait for it is bounded.
    const timer = setTimeout(() => link.abandon("the server did not answer the close"), CLOSE_WAIT_MS);
    return link.closed.then(() => clearTimeout(timer));
  }

  /** See `close`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #callOnce(
    method: CallableMethod,
    params: unknown,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    /** A start whose reply was lost is looked for before it is sent again. */
    let checkStart = false;
    /** When the call was first sent, by this side's monotonic clock. */
    let firstSentAt: number | null = null;
    for (let losses = 1;; losses++) {
      const link = await this.#currentLink(signal);
      try {
        if (checkStart) {
          const started = await this.#startTookPlace(link, params, signal, firstSentAt ?? performance.now());
          if (started !== null) return started;
          checkStart = false;
        }
        firstSentAt ??= performance.now();
        const result = await link.peer.call(method, params, signal);
        if (losses > 1) this.#checkRepeat(method, params, { result });
        return result;
      } catch (error) {
        if (error instanceof RequestTooLarge) {
          throw new ClientError("tooLarge", error.message, { cause: error });
        }
        if (losses > 1 && error instanceof RpcError) this.#checkRepeat(method, params, { error });
        if (!(error instanceof TransportLost)) throw error;
        // The check of a start counts too: a server that ends the connection at that
        // `process/read` would otherwise be reconnected to and asked again without end.
        if (losses >= MAX_LOSSES_PER_CALL) {
          // A server that ends the connection at this very request (a message larger than it
          // takes, say) would end every resumed one too: the call stops being sent.
          throw new ClientError(
            "connectionClosed",
            `the connection was lost ${losses} times with ${method} in flight; it is not sent again`,
            { cause: error },
          );
        }
        const policy = replayPolicy(method, params);
        if (policy === "replay") continue;
        if (policy === "checkStart") {
          checkStart = true;
          continue;
        }
        throw new ClientError(
          "outcomeUnknown",
          `the connection was lost before ${method} was answered; it may or may not have taken effect`,
          { cause: error },
        );
      }
    }
  }

  /**
   * Throws `outcomeUnknown` when the answer to `method` sent again after a lost connection may
   * be the first send's work (a terminate that finds the process it killed gone, say): the first
   * send's outcome is then unknown, and the answer would report the wrong one.
   */
  #checkRepeat(method: CallableMethod, params: unknown, answer: RepeatAnswer): void {
    if (!repeatIsInDoubt(method, params, answer)) return;
    const what = "error" in answer ? answer.error.kind : JSON.stringify(answer.result);
    throw new ClientError(
      "outcomeUnknown",
      `${method} sent again after a lost connection answered ${what}; the first may have taken effect`,
      "error" in answer ? { cause: answer.error } : {},
    );
  }

  /**
   * Whether a `process/start` whose reply was lost took place, asked on `link` with `process/read`
   * of its id: its result if so, null if the id is unknown (then the start is sent again). A lost
   * transport rejects with `TransportLost`, for the caller to count. An unknown id answered as
   * late as the server's process retention after the first send may be a process that ran,
   * closed and was removed (§3.9): that start's outcome is unknown, and sending it again would run
   * its command twice.
   */
  async #startTookPlace(
    link: WebSocketLink,
    params: unknown,
    signal: AbortSignal | undefined,
    firstSentAt: number,
  ): Promise<unknown> {
    const parsed = METHODS["process/start"].params.safeParse(params);
    // Params the server would refuse are sent again, for the server to refuse.
    if (!parsed.success) return null;
    const start = parsed.data;
    // Between answers that the start is still running, so that a server that answers at once
    // (this one waits 5 s, §5.3) is not asked thousands of times a second.
    let delay = FIRST_RETRY_MS;
    for (;;) {
      try {
        await link.peer.call("process/read", { processId: start.processId, maxBytes: 0 }, signal);
        // The start result is not kept by the server; a start without a sandbox runs unsandboxed.
        const unsandboxed = start.sandbox == null && start.enforceManagedNetwork !== true;
        return { processId: start.processId, sandboxType: unsandboxed ? "none" : "linuxSeccomp" };
      } catch (error) {
        if (error instanceof RpcError && hasKind(error, "ProcessStarting", " is starting")) {
          await sleep(
            delay,
            signal === undefined ? this.#closing.signal : AbortSignal.any([signal, this.#closing.signal]),
          );
          delay = Math.min(delay * 2, MAX_RETRY_MS);
          continue;
        }
        if (!(error instanceof RpcError && hasKind(error, "UnknownProcess", "unknown process id"))) {
          throw error;
        }
        // Removal comes at least the retention after the start, which came after the first send:
        // an answer that arrives sooner than that after the first send proves no start took place.
        const retentionMs = this.#environmentInfo.extensions?.limits.processRetentionMs ??
          DEFAULT_PROCESS_RETENTION_MS;
        if (performance.now() - firstSentAt < retentionMs) return null;
        throw new ClientError(
          "outcomeUnknown",
          `process ${start.processId} is unknown ${retentionMs} ms or more after its start was sent: ` +
            "it may have run, closed and been removed, so the start is not sent again",
          { cause: error },
        );
      }
    }
  }

  /** The open link, waiting for a reconnection in progress. */
  async #currentLink(signal: AbortSignal | undefined): Promise<WebSocketLink> {
    signal?.throwIfAborted();
    if (this.#failure !== null) throw this.#failure;
    const reconnected = this.#reconnected;
    if (reconnected === null) return this.#link;
    if (signal === undefined) return await reconnected.promise;
    const aborted = Promise.withResolvers<never>();
    const onAbort = (): void => aborted.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.race([reconnected.promise, aborted.promise]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  #linkClosed(link: WebSocketLink, close: CloseInfo): void {
    if (link !== this.#link || this.#state !== "open") return;
    if (close.code === 1008) {
      // The server closes with 1008 when another connection resumed the session (§3.7), or for a
      // protocol violation; resuming would not help in either case.
      const message = close.reason === "" ? "closed by the server (1008)" : close.reason;
      this.#end("lost", new ClientError("sessionLost", `session ${this.#sessionId} lost: ${message}`));
      return;
    }
    if (!this.#options.reconnect) {
      this.#end(
        "lost",
        new ClientError("connectionClosed", `connection to ${this.url} closed (${close.code})`),
      );
      return;
    }
    this.#state = "reconnecting";
    const reconnected = Promise.withResolvers<WebSocketLink>();
    // Callers that wait see the rejection; an unobserved one is not an error.
    reconnected.promise.catch(() => {});
    this.#reconnected = reconnected;
    // A server (or a proxy) that ends every connection right after its resume made a fresh
    // reconnection, with no pause before its first attempt, each time: thousands a second, and
    // never a deadline. A link that is lost young and silent continues the reconnection that made it.
    const resumed = this.#resumed;
    this.#resumed = null;
    const carried = resumed !== null && resumed.link === link &&
        link.messagesReceived === resumed.messages && Date.now() - resumed.at < MAX_RETRY_MS
      ? { started: resumed.started, delay: resumed.delay }
      : null;
    void this.#reconnect(reconnected, carried);
  }

  async #reconnect(
    reconnected: PromiseWithResolvers<WebSocketLink>,
    carried: { started: number; delay: number } | null,
  ): Promise<void> {
    const started = carried?.started ?? Date.now();
    let delay = carried?.delay ?? FIRST_RETRY_MS;
    let attachedSince: number | null = null;
    let lastError: unknown = null;
    // A fresh reconnection tries at once; a continued one waits its turn first.
    let wait = carried !== null;
    while (this.#state === "reconnecting") {
      if (wait) {
        const left = this.#options.reconnectTimeoutMs - (Date.now() - started);
        if (left <= 0) {
          const message = `could not reconnect to ${this.url} within ${this.#options.reconnectTimeoutMs} ms`;
          this.#end("lost", new ClientError("sessionLost", message, { cause: lastError }));
          return;
        }
        await sleep(Math.min(delay, left), this.#closing.signal);
        delay = Math.min(delay * 2, MAX_RETRY_MS);
        if (this.#state !== "reconnecting") return;
      }
      wait = true;
      try {
        const { link, session } = await openSession(this.url, {
          ...sessionOptions(this.#options),
          // An attempt ends by the reconnection's deadline, and at once when the client closes.
          timeoutMs: Math.max(
            1,
            Math.min(
              this.#options.connectTimeoutMs,
              this.#options.reconnectTimeoutMs - (Date.now() - started),
            ),
          ),
          signal: this.#closing.signal,
          resumeSessionId: this.#sessionId,
          onNotification: (method, params, payload) => this.#notification(method, params, payload),
          onClose: (closing, close) => this.#linkClosed(closing, close),
        });
        if (this.#state !== "reconnecting") {
          link.close();
          return;
        }
        if (session.sessionId !== this.#sessionId) {
          // A success names the same session (§3.7). Another one has none of this session's
          // processes: calls sent to it would act on, or report about, the wrong session.
          link.close();
          const message =
            `session ${this.#sessionId} lost: the server resumed it as session ${session.sessionId}`;
          this.#end("lost", new ClientError("sessionLost", message));
          return;
        }
        this.#link = link;
        this.#watch(link);
        this.#resumed = { link, at: Date.now(), messages: link.messagesReceived, started, delay };
        this.#binaryFrames = session.binaryFrames === true;
        this.#state = "open";
        this.#reconnected = null;
        reconnected.resolve(link);
        this.#subscribers.resumed();
        return;
      } catch (error) {
        lastError = error;
        if (error instanceof RpcError && isUnknownSession(error)) {
          this.#end(
            "lost",
            new ClientError("sessionLost", `session ${this.#sessionId} has expired`, { cause: error }),
          );
          return;
        }
        if (error instanceof RpcError && error.code === ErrorCode.SessionAttached) {
          attachedSince ??= Date.now();
          if (Date.now() - attachedSince >= this.#options.attachedGraceMs) {
            const message = `session ${this.#sessionId} is attached to another connection`;
            this.#end("lost", new ClientError("sessionLost", message, { cause: error }));
            return;
          }
        }
      }
    }
  }

  /**
   * Asks the server something after `livenessMs` of silence on `link`, and abandons the link when
   * nothing has arrived another `livenessMs` on: calls in flight and process events would
   * otherwise wait for ever on a connection whose peer is gone without a close.
   */
  #watch(link: WebSocketLink): void {
    const silence = this.#options.livenessMs;
    /** When the question went out, while it waits for anything to arrive. */
    let askedAt: number | null = null;
    /** Whether the question's window was already extended once for a late tick. */
    let extended = false;
    let lastTickAt = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      // A tick this late means this process ran nothing for a good part of the window (a busy
      // machine, a long synchronous task): an answer that came in time may still wait unread in
      // the socket, and the timer runs before it is read.
      const late = now - lastTickAt >= silence + silence / LATE_TICK_DIVISOR;
      lastTickAt = now;
      // Judged by arrival since the question, not by the silence at the tick: an answer in the
      // millisecond of the question leaves the link exactly `silence` quiet one tick later.
      if (askedAt !== null && link.lastHeardAt < askedAt) {
        // One more window, judged after the socket has been read, for a question whose window
        // this process did not run through.
        if (late && !extended) {
          extended = true;
          return;
        }
        link.abandon(`nothing from the server in ${now - askedAt} ms`);
        return;
      }
      askedAt = null;
      extended = false;
      if (link.silentMs < silence) return;
      askedAt = now;
      // Any message counts as an answer; this call's own outcome does not matter.
      link.peer.call("environment/info", {}).catch(() => {});
    }, silence);
    void link.closed.then(() => clearInterval(timer));
  }

  /** Ends the client: waiting and future calls fail with `error`, and so do process streams. */
  #end(state: "closed" | "lost", error: ClientError): void {
    this.#state = state;
    this.#failure = error;
    this.#ended.resolve(error);
    this.#closing.abort(error);
    this.#reconnected?.reject(error);
    this.#reconnected = null;
    this.#link.peer.close(error);
    this.#link.close();
    this.#subscribers.lost(error);
  }

  /**
   * Validates a notification and hands it to its process's subscriber. A malformed one is dropped:
   * the gap it leaves in the process's seqs is read back from the log like any other.
   */
  #notification(method: string, params: unknown, payload?: Uint8Array): void {
    const notification = parseNotification(method, params, payload);
    if (notification !== null) this.#subscribers.deliver(notification);
  }
}

/**
 * A liveness tick more than `livenessMs / LATE_TICK_DIVISOR` after it was due finds the client
 * itself held up, and gives its question one more window.
 */
const LATE_TICK_DIVISOR = 4;

/**
 * Whether a resume was answered that the session is unknown or expired (§3.7): by its kind, or, from
 * a server that sends no `data.kind` (a Codex server), by the code and message §3.7 gives it.
 */
function isUnknownSession(error: RpcError): boolean {
  return hasKind(error, "UnknownSession", "unknown session id");
}

/**
 * Whether `error` is the -32600 of `kind`: by its kind, or, from a server that sends no
 * `data.kind` (a Codex server; -32600 then reads as InvalidInput), by the wording PROTOCOL.md gives
 * it (`text` in its message).
 */
function hasKind(error: RpcError, kind: RpcError["kind"], text: string): boolean {
  if (error.kind === kind) return true;
  return error.code === ErrorCode.InvalidRequest && error.kind === "InvalidInput" &&
    error.message.includes(text);
}

function parseResult<M extends CallableMethod>(method: M, value: unknown): CallResult<M> {
  const parsed = RESULTS[method].result.safeParse(value);
  if (!parsed.success) throw new ClientError("badReply", `${method} answered with an invalid result`);
  return parsed.data;
}

/** What every connection attempt of a client shares. */
function sessionOptions(options: ExecServerClientOptions & typeof DEFAULTS): {
  clientName: string;
  timeoutMs: number;
  binaryFrames: boolean;
  token?: string;
} {
  const shared = {
    clientName: options.clientName,
    timeoutMs: options.connectTimeoutMs,
    binaryFrames: options.binaryFrames,
  };
  return options.token === undefined ? shared : { ...shared, token: options.token };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
