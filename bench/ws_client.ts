/** A lean JSON-RPC WebSocket client for the bench: calls, and notifications routed by processId. */

type Message = Record<string, unknown>;

/** Receives the notifications of one process, params still as parsed JSON. */
export type ProcessListener = (method: string, params: Message) => void;

/** The error member of a reply. */
export interface WireError {
  code: number;
  message: string;
}

/** Thrown by `call` when the server answers with an error. */
export class WireCallError extends Error {
  readonly code: number;
  constructor(method: string, error: WireError) {
    super(`${method}: ${error.code} ${error.message}`);
    this.code = error.code;
  }
}

/** One connection to the server; `open` also runs initialize + initialized. */
export class BenchClient {
  readonly #ws: WebSocket;
  readonly #pending = new Map<
    number,
    { method: string; resolve: (m: Message) => void; reject: (e: Error) => void }
  >();
  readonly #listeners = new Map<string, ProcessListener>();
  #nextId = 1;
  #closedError: Error | null = null;
  /** Whether the server agreed to binary frames (PROTOCOL.md §11.12) for this connection. */
  binaryFrames = false;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => this.#onMessage(event.data));
    ws.addEventListener("close", (event) => {
      this.#closedError = new Error(`connection closed (${event.code} ${event.reason})`);
      for (const waiter of this.#pending.values()) waiter.reject(this.#closedError);
      this.#pending.clear();
    });
  }

  /**
   * Connects to `url` and completes the handshake; `binaryFrames` asks for binary frames, which
   * a server without them ignores (see `binaryFrames`).
   */
  static async open(url: string, options: { binaryFrames?: boolean } = {}): Promise<BenchClient> {
    const ws = openSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`websocket to ${url} failed to open`)), {
        once: true,
      });
    });
    const client = new BenchClient(ws);
    const asked = options.binaryFrames === true ? { binaryFrames: true } : {};
    const result = await client.call("initialize", { clientName: "bench", ...asked });
    client.binaryFrames = result["binaryFrames"] === true;
    client.#ws.send('{"method":"initialized","params":{}}');
    return client;
  }

  /** Sends a request; resolves with the whole reply (result or error). */
  request(method: string, params: unknown): Promise<Message> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Message>();
    this.#pending.set(id, { method, resolve, reject });
    this.#ws.send(JSON.stringify({ id, method, params }));
    return promise;
  }

  /** Sends a request; resolves with `result` or rejects with WireCallError. */
  async call(method: string, params: unknown): Promise<Message> {
    const reply = await this.request(method, params);
    const error = reply["error"];
    // The server's error member has this shape (PROTOCOL.md §2.6).
    if (error !== undefined) throw new WireCallError(method, error as WireError);
    return reply["result"] as Message;
  }

  /** Routes the notifications of `processId` to `listener` until `unlisten`. */
  listen(processId: string, listener: ProcessListener): void {
    this.#listeners.set(processId, listener);
  }

  /** Stops routing notifications of `processId`. */
  unlisten(processId: string): void {
    this.#listeners.delete(processId);
  }

  /** Closes the socket. */
  close(): void {
    this.#ws.close();
  }

  #onMessage(data: unknown): void {
    let message: Message;
    if (data instanceof ArrayBuffer) {
      message = binaryMessage(new Uint8Array(data));
    } else {
      const text = String(data);
      message = (text.length > BIG_REPLY_CHARS ? bigReply(text) : null) ?? JSON.parse(text) as Message;
    }
    const method = message["method"];
    if (typeof method === "string") {
      const params = message["params"] as Message;
      this.#listeners.get(String(params["processId"]))?.(method, params);
      return;
    }
    const id = message["id"];
    if (typeof id !== "number") return;
    const waiter = this.#pending.get(id);
    if (waiter === undefined) return;
    this.#pending.delete(id);
    waiter.resolve(message);
  }
}

/**
 * Opens a WebSocket the way a Codex client does: no `permessage-deflate` offer (Codex sends no
 * extensions, PROTOCOL.md §10.1). Bun's client offers it unless told not to.
 */
export function openSocket(url: string): WebSocket {
  // Bun's WebSocket takes an options object as its second argument (Bun.WebSocketOptions); the
  // DOM constructor type that tsc picks here knows only protocol lists.
  const options = { perMessageDeflate: false } as unknown as string[];
  return new WebSocket(url, options);
}

/**
 * A binary frame (PROTOCOL.md §11.12) as a message: its header, with the payload as `bytes` in
 * the member that carries `byteLength` (`result` of a reply, `params` of a notification).
 */
function binaryMessage(frame: Uint8Array): Message {
  const end = frame.indexOf(0x0a);
  const header = JSON.parse(new TextDecoder().decode(frame.subarray(0, end))) as Message;
  const bytes = frame.subarray(end + 1);
  const member = typeof header["method"] === "string" ? "params" : "result";
  return { ...header, [member]: { ...(header[member] as Message), bytes } };
}

/** Replies longer than this may take the `bigReply` path. */
const BIG_REPLY_CHARS = 1 << 20;
const BIG_REPLY_HEAD = /^\{"id":(\d+),"result":\{"dataBase64":"/;

/**
 * A reply `{"id":N,"result":{"dataBase64":"…"}}` (a whole file) taken apart without `JSON.parse`:
 * in Bun, parsing an 89 MB reply costs the bench client about 0.5 s, more than the server spends
 * on it, and the figure is the server's. The member must be plain base64 (no quote, no escape),
 * or the reply goes through `JSON.parse` like any other. Null when it does not have this shape.
 */
function bigReply(text: string): Message | null {
  const head = BIG_REPLY_HEAD.exec(text.slice(0, 64));
  if (head === null || !text.endsWith('"}}')) return null;
  const body = text.slice(head[0].length, text.length - 3);
  if (body.includes('"') || body.includes("\\")) return null;
  return { id: Number(head[1]), result: { dataBase64: body } };
}

/** Opens a fresh session for one figure, so a broken figure does not poison the next. */
export async function withClient<T>(url: string, use: (client: BenchClient) => Promise<T>): Promise<T> {
  const client = await BenchClient.open(url);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}
