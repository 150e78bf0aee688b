/** A small JSON-RPC WebSocket client for tests: calls, raw frames, and process event collection. */

/** An error reply, as a value. */
export interface ErrorReply {
  code: number;
  message: string;
  data?: { kind: string; errno?: string };
}

/** Thrown by `call` when the server answers with an error. */
export class CallError extends Error {
  readonly reply: ErrorReply;
  constructor(reply: ErrorReply) {
    super(`${reply.code} ${reply.message}`);
    this.reply = reply;
  }
}

/** One decoded process event in seq order. */
export type ProcessEvent =
  | { method: "process/output"; seq: number; stream: string; text: string }
  | {
    method: "process/exited";
    seq: number;
    exitCode: number;
    sandboxDenied: boolean;
    timedOut?: true;
    failure?: string;
  }
  | { method: "process/closed"; seq: number };

type Message = Record<string, unknown>;

/** How long `connect` waits for the upgrade to complete. */
const CONNECT_TIMEOUT_MS = 15_000;

/** A connected test client. */
export class TestClient implements AsyncDisposable {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly messages: Message[] = [];
  /** Messages that arrived as binary frames. */
  binaryFrames = 0;
  /** The header and payload size of each binary frame (§11.12), in arrival order. */
  readonly binaryHeaders: Array<{ header: Message; payloadBytes: number }> = [];
  #nextId = 1;
  #pending = new Map<string, PromiseWithResolvers<Message>>();
  #events = new Map<string, ProcessEvent[]>();
  #watchers: Array<() => void> = [];
  sessionId = "";

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (event) => {
        resolve({ code: event.code, reason: event.reason });
        this.#notify();
      });
    });
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => {
      if (typeof event.data === "string") {
        this.#onMessage(JSON.parse(event.data) as Message);
        return;
      }
      // Only a client that asked for binary frames gets them (PROTOCOL.md §11.12): each is turned
      // into its text form, so that replies and events read the same either way.
      this.binaryFrames++;
      this.#onMessage(this.#textForm(new Uint8Array(event.data as ArrayBuffer)));
    });
    ws.addEventListener("error", () => this.#notify());
  }

  /** Opens a WebSocket to `url`. */
  static async connect(
    url: string,
    options: { protocols?: string[]; headers?: Record<string, string> } = {},
  ): Promise<TestClient> {
    // Bun's WebSocket accepts headers in the options object; the cast is the test-only seam.
    const init = { protocols: options.protocols, headers: options.headers } as unknown as string[];
    const ws = new WebSocket(url, options.headers || options.protocols ? init : undefined);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      // A server that never answers the upgrade fails the test quickly instead of at its timeout.
      const timer = setTimeout(
        () => reject(new Error(`websocket to ${url} did not open`)),
        CONNECT_TIMEOUT_MS,
      );
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
      ws.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error("websocket failed to open"));
      }, { once: true });
    });
    return client;
  }

  /** initialize + initialized; `binaryFrames` asks for binary frames (§11.12). */
  async initialize(resumeSessionId?: string, options: { binaryFrames?: boolean } = {}): Promise<Message> {
    const result = await this.call("initialize", {
      clientName: "test",
      resumeSessionId: resumeSessionId ?? null,
      ...options,
    });
    this.sessionId = String(result["sessionId"]);
    this.send({ method: "initialized", params: {} });
    return result;
  }

  /** Sends a raw frame (object or text). */
  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Sends a binary frame. */
  sendBinary(bytes: Uint8Array<ArrayBuffer>): void {
    this.ws.send(bytes);
  }

  /** Resolves with the first received message (past or future) that satisfies `predicate`. */
  async waitForMessage(predicate: (message: Message) => boolean): Promise<Message> {
    for (;;) {
      const found = this.messages.find(predicate);
      if (found !== undefined) return found;
      if (this.ws.readyState === WebSocket.CLOSED) {
        throw new Error("socket closed while waiting for a message");
      }
      await new Promise<void>((resolve) => this.#watchers.push(resolve));
    }
  }

  /** Resolves with the first `count` replies (results or errors) carrying `id`, in arrival order. */
  async repliesTo(id: string | number, count: number): Promise<Message[]> {
    const key = JSON.stringify(id);
    const matches = (): Message[] =>
      this.messages.filter((message) => !("method" in message) && JSON.stringify(message["id"]) === key);
    for (;;) {
      const found = matches();
      if (found.length >= count) return found.slice(0, count);
      if (this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`socket closed with ${found.length} replies to ${key}`);
      }
      await new Promise<void>((resolve) => this.#watchers.push(resolve));
    }
  }

  /** The highest seq received for a process so far (0 when none). */
  lastSeq(processId: string): number {
    return this.events(processId).reduce((max, event) => Math.max(max, event.seq), 0);
  }

  /** Sends a request and resolves with the whole reply message. */
  async request(method: string, params?: unknown, id?: string | number): Promise<Message> {
    const requestId = id ?? this.#nextId++;
    const key = JSON.stringify(requestId);
    const waiter = Promise.withResolvers<Message>();
    this.#pending.set(key, waiter);
    this.send(params === undefined ? { id: requestId, method } : { id: requestId, method, params });
    return await Promise.race([
      waiter.promise,
      this.closed.then(({ code }) => {
        throw new Error(`connection closed (${code}) before reply to ${method}`);
      }),
    ]);
  }

  /** Sends a request; resolves with `result` or throws CallError. */
  async call(method: string, params?: unknown): Promise<Message> {
    const reply = await this.request(method, params);
    if (reply["error"] !== undefined) throw new CallError(reply["error"] as ErrorReply);
    return reply["result"] as Message;
  }

  /** Sends a request that must fail; resolves with the error object. */
  async callError(method: string, params?: unknown): Promise<ErrorReply> {
    const reply = await this.request(method, params);
    if (reply["error"] === undefined) {
      throw new Error(`${method} succeeded: ${JSON.stringify(reply["result"])}`);
    }
    return reply["error"] as ErrorReply;
  }

  /** Waits for the reply carrying `id` (for raw sends). */
  async replyTo(id: string | number): Promise<Message> {
    const key = JSON.stringify(id);
    const existing = this.messages.find((message) =>
      JSON.stringify(message["id"]) === key && !("method" in message)
    );
    if (existing) return existing;
    const waiter = Promise.withResolvers<Message>();
    this.#pending.set(key, waiter);
    return await waiter.promise;
  }

  /** The events of one process received so far. */
  events(processId: string): ProcessEvent[] {
    return this.#events.get(processId) ?? [];
  }

  /** Resolves once `predicate` holds over the process's events (or rejects if the socket closes). */
  async waitFor(processId: string, predicate: (events: ProcessEvent[]) => boolean): Promise<ProcessEvent[]> {
    for (;;) {
      const events = this.events(processId);
      if (predicate(events)) return events;
      if (this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`socket closed while waiting on ${processId}`);
      }
      await new Promise<void>((resolve) => this.#watchers.push(resolve));
    }
  }

  /** Resolves with every event up to and including `process/closed`. */
  untilClosed(processId: string): Promise<ProcessEvent[]> {
    return this.waitFor(processId, (events) => events.some((event) => event.method === "process/closed"));
  }

  /** All output text of a process so far, in seq order. */
  outputText(processId: string): string {
    return this.events(processId)
      .filter((event) => event.method === "process/output")
      .map((event) => (event.method === "process/output" ? event.text : ""))
      .join("");
  }

  /** Resolves once the output contains `text`. */
  async waitForOutput(processId: string, text: string): Promise<void> {
    await this.waitFor(processId, () => this.outputText(processId).includes(text));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    await this.closed;
  }

  /**
   * The text form of a binary frame: its header with `byteLength` replaced by the payload's
   * base64 (`params.chunk` of an output notification, `result.dataBase64` of a reply).
   */
  #textForm(frame: Uint8Array): Message {
    const end = frame.indexOf(0x0a);
    if (end < 0) throw new Error("binary frame without a header line");
    const header = JSON.parse(new TextDecoder().decode(frame.subarray(0, end))) as Message;
    const payload = frame.subarray(end + 1);
    this.binaryHeaders.push({ header, payloadBytes: payload.byteLength });
    const base64 = Buffer.from(payload).toString("base64");
    if (header["method"] === "process/output") {
      const { byteLength: _byteLength, ...params } = header["params"] as Message;
      return { ...header, params: { ...params, chunk: base64 } };
    }
    return { ...header, result: { dataBase64: base64 } };
  }

  #onMessage(message: Message): void {
    this.messages.push(message);
    if (typeof message["method"] === "string") {
      const params = message["params"] as Message;
      const processId = String(params["processId"]);
      const list = this.#events.get(processId) ?? [];
      const method = message["method"];
      if (method === "process/output") {
        list.push({
          method,
          seq: Number(params["seq"]),
          stream: String(params["stream"]),
          text: Buffer.from(String(params["chunk"]), "base64").toString("latin1"),
        });
      } else if (method === "process/exited") {
        const event: ProcessEvent = {
          method,
          seq: Number(params["seq"]),
          exitCode: Number(params["exitCode"]),
          sandboxDenied: Boolean(params["sandboxDenied"]),
        };
        if (params["timedOut"] === true) event.timedOut = true;
        if (typeof params["failure"] === "string") event.failure = params["failure"];
        list.push(event);
      } else if (method === "process/closed") {
        list.push({ method, seq: Number(params["seq"]) });
      }
      this.#events.set(processId, list);
    } else {
      const key = JSON.stringify(message["id"]);
      const waiter = this.#pending.get(key);
      if (waiter) {
        this.#pending.delete(key);
        waiter.resolve(message);
      }
    }
    this.#notify();
  }

  #notify(): void {
    const watchers = this.#watchers;
    this.#watchers = [];
    for (const wake of watchers) wake();
  }
}
