import { encodeBase64, fromWireError } from "../protocol/mod.ts";
import { RpcPeer, splitBinaryFrame } from "../rpc/mod.ts";
import { ClientError } from "./client_error.ts";

/** The subprotocol the server selects when offered (PROTOCOL.md §1.3). */
const SUBPROTOCOL = "exec-server.v1";
const UTF8 = new TextEncoder();
const UTF8_DECODER = new TextDecoder();

/** How a WebSocket ended. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** What calls in flight on a link reject with when its socket closes; the client decides what next. */
export class TransportLost extends Error {
  readonly close: CloseInfo;

  constructor(close: CloseInfo) {
    super(`connection closed (${close.code}${close.reason === "" ? "" : ` ${close.reason}`})`);
    this.name = "TransportLost";
    this.close = close;
  }
}

/** Options of `WebSocketLink.open`. */
export interface LinkOptions {
  /** The capability token, offered as a subprotocol entry (browsers cannot set headers, §1.4). */
  readonly token?: string;
  readonly signal?: AbortSignal;
  /** Gives up on an upgrade that does not complete in this many ms. */
  readonly timeoutMs: number;
  /**
   * Whether the handshake asks for binary frames (§11.12): then a binary message is read as a
   * frame, and as UTF-8 JSON only when it is not one.
   */
  readonly binaryFrames: boolean;
  /** Incoming notifications; `payload` holds the raw bytes of a binary frame's notification. */
  readonly onNotification: (method: string, params: unknown, payload?: Uint8Array) => void;
  /** Called when the socket closes, before the calls in flight reject. */
  readonly onClose: (link: WebSocketLink, close: CloseInfo) => void;
}

/**
 * One WebSocket and the JSON-RPC engine on it. It only needs the global `WebSocket`, so it runs in
 * Bun, Deno, Node 22 and browsers alike. When the socket closes, calls in flight reject with
 * `TransportLost` and `closed` resolves.
 */
export class WebSocketLink {
  readonly peer: RpcPeer;
  /** Resolves when the socket has closed, however it closed. */
  readonly closed: Promise<CloseInfo>;
  readonly #socket: WebSocket;
  #messages = 0;
  #lastHeard = Date.now();
  /** Ends the link once, whether its socket closed or it was abandoned. */
  readonly #end: (info: CloseInfo) => void;

  private constructor(socket: WebSocket, options: LinkOptions) {
    this.#socket = socket;
    this.peer = new RpcPeer({
      transport: {
        send: (text) => {
          // A closing socket throws; its close event rejects what was in flight.
          if (socket.readyState === socket.OPEN) socket.send(text);
        },
      },
      jsonrpc: false,
      onNotification: options.onNotification,
      // The server never sends requests; a parse error it reports (id -1) answers nothing of ours.
      log: () => {},
      remoteError: fromWireError,
    });
    const closed = Promise.withResolvers<CloseInfo>();
    this.closed = closed.promise;
    let ended = false;
    this.#end = (info) => {
      if (ended) return;
      ended = true;
      options.onClose(this, info);
      this.peer.close(new TransportLost(info));
      closed.resolve(info);
    };
    socket.addEventListener("close", (event) => this.#end({ code: event.code, reason: event.reason }), {
      once: true,
    });
    socket.addEventListener("message", (event: MessageEvent) => {
      this.#messages++;
      this.#lastHeard = Date.now();
      const data: unknown = event.data;
      if (typeof data === "string") this.#receiveText(data);
      else if (data instanceof ArrayBuffer) this.#receiveBinary(new Uint8Array(data), options);
    });
  }

  /**
   * A binary frame's notification goes to `onNotification` with its payload; its reply (only
   * `fs/readFile` has one) becomes the text form's result, `{dataBase64}`. A binary message that
   * is no frame is UTF-8 JSON (§1.5).
   */
  #receiveBinary(bytes: Uint8Array, options: LinkOptions): void {
    const frame = options.binaryFrames ? frameMessage(bytes) : null;
    if (frame !== null) {
      if (typeof frame.header["method"] === "string") {
        options.onNotification(frame.header["method"], frame.header["params"], frame.payload);
      } else {
        void this.peer.receiveValue({ ...frame.header, result: { dataBase64: encodeBase64(frame.payload) } });
      }
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(UTF8_DECODER.decode(bytes));
    } catch {
      this.#unreadable(bytes, options.binaryFrames);
      return;
    }
    this.#receiveValue(value);
  }

  /** A text message; one that is not JSON names no call, and is dropped. */
  #receiveText(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return;
    }
    this.#receiveValue(value);
  }

  /**
   * One parsed message. A reply that names a call of ours but carries neither `result` nor `error`
   * fails that call: the engine would drop it as no message at all, and the call wait for ever.
   */
  #receiveValue(value: unknown): void {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const message = value as Record<string, unknown>;
      const id = message["id"];
      if (
        typeof id === "number" && !("method" in message) && !("result" in message) && !("error" in message)
      ) {
        this.peer.failCall(
          id,
          new ClientError("badReply", `the reply to request ${id} has neither result nor error`),
        );
        return;
      }
    }
    void this.peer.receiveValue(value);
  }

  /**
   * A binary message that is neither a frame this link takes nor JSON. When its header names a
   * call of ours, that call fails: its reply has come, and nothing else will. A notification is
   * dropped; the gap it leaves in its process's seqs is read back from the log.
   */
  #unreadable(bytes: Uint8Array, asked: boolean): void {
    const split = splitBinaryFrame(bytes);
    let header: unknown = null;
    try {
      header = split === null ? null : JSON.parse(split.header);
    } catch {
      header = null;
    }
    const id = typeof header === "object" && header !== null
      ? (header as Record<string, unknown>)["id"]
      : null;
    if (typeof id !== "number") return;
    const why = asked
      ? "a binary frame whose byteLength is not its payload's length"
      : "a binary frame, which this connection did not ask for (§11.12)";
    this.peer.failCall(id, new ClientError("badReply", `the reply to request ${id} came as ${why}`));
  }

  /** Opens a WebSocket to `url`; rejects with `ClientError` `notConnected` if it does not open. */
  static open(url: string, options: LinkOptions): Promise<WebSocketLink> {
    const { promise, resolve, reject } = Promise.withResolvers<WebSocketLink>();
    options.signal?.throwIfAborted();
    const protocols = [SUBPROTOCOL];
    if (options.token !== undefined) protocols.push(`exec-server.bearer.${base64Url(options.token)}`);
    const socket = new WebSocket(url, protocols);
    socket.binaryType = "arraybuffer";
    const link = new WebSocketLink(socket, options);
    const fail = (error: unknown): void => {
      cleanup();
      socket.close();
      reject(error);
    };
    const onOpen = (): void => {
      cleanup();
      resolve(link);
    };
    const onClose = (event: CloseEvent): void =>
      fail(new ClientError("notConnected", `cannot connect to ${url} (${event.code})`));
    const onAbort = (): void => fail(options.signal?.reason);
    const timer = setTimeout(
      () =>
        fail(
          new ClientError("notConnected", `cannot connect to ${url}: no answer in ${options.timeoutMs} ms`),
        ),
      options.timeoutMs,
    );
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeEventListener("open", onOpen);
      socket.removeEventListener("close", onClose);
      options.signal?.removeEventListener("abort", onAbort);
    };
    socket.addEventListener("open", onOpen);
    socket.addEventListener("close", onClose);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    return promise;
  }

  /** How many messages have arrived on the socket, of any kind. */
  get messagesReceived(): number {
    return this.#messages;
  }

  /** When the last message arrived (or the link was made), in ms since the epoch. */
  get lastHeardAt(): number {
    return this.#lastHeard;
  }

  /** How long nothing has arrived on the socket, in ms. */
  get silentMs(): number {
    return Date.now() - this.#lastHeard;
  }

  /**
   * Counts the link as lost now (code 1006, `reason`), as if its socket had closed, and closes the
   * socket: a peer that stopped answering may never let a close complete.
   */
  abandon(reason: string): void {
    this.#end({ code: 1006, reason });
    this.#socket.close();
  }

  /** Closes the socket (a normal closure). */
  close(): void {
    this.#socket.close(1000);
  }
}

/** A binary frame's header as an object and its payload; null when `bytes` is no frame. */
function frameMessage(bytes: Uint8Array): { header: Record<string, unknown>; payload: Uint8Array } | null {
  const split = splitBinaryFrame(bytes);
  if (split === null) return null;
  let header: unknown;
  try {
    header = JSON.parse(split.header);
  } catch {
    return null;
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return null;
  const message = header as Record<string, unknown>;
  // A JSON message with a trailing newline splits too; a frame states its payload's length.
  const carrier = message["method"] === undefined ? message["result"] : message["params"];
  const byteLength = typeof carrier === "object" && carrier !== null
    ? (carrier as Record<string, unknown>)["byteLength"]
    : undefined;
  return byteLength === split.payload.byteLength ? { header: message, payload: split.payload } : null;
}

/** A token as a subprotocol entry: base64url (RFC 4648 §5) without padding. */
function base64Url(token: string): string {
  return encodeBase64(UTF8.encode(token)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
