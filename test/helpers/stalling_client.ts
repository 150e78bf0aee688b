/**
 * A WebSocket client that can stop reading: its TCP socket is paused, so the kernel's buffers fill
 * and the server's unsent data grows, as with a client that hangs or a slow link. Frames are
 * reassembled without copying per packet (a 100 MB reply arrives in thousands of packets), and
 * large strings are kept only as their decoded length, so the test process stays small.
 */
import { connect } from "node:net";
import type { Socket } from "node:net";
import { encodeFrame } from "./raw_socket.ts";

type Message = Record<string, unknown>;

/** What is kept of each process's notifications. */
export interface ProcessNews {
  outputBytes: number;
  exitCode: number | null;
  closed: boolean;
}

export class StallingClient implements AsyncDisposable {
  readonly #socket: Socket;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #replies = new Map<string, Message>();
  readonly #news = new Map<string, ProcessNews>();
  #closeCode: number | null = null;
  /** The session's id, from the handshake. */
  sessionId = "";
  /** Messages that came as binary frames (§11.12). */
  binaryFrames = 0;
  #watchers: Array<() => void> = [];
  #ended = false;

  private constructor(socket: Socket, rest: Buffer) {
    this.#socket = socket;
    socket.on("data", (data: Buffer) => this.#take(data));
    const finish = (): void => {
      this.#ended = true;
      this.#wake();
    };
    socket.once("end", finish);
    socket.once("close", finish);
    // A server that cuts the connection off resets it: that is an end like any other here.
    socket.on("error", finish);
    if (rest.byteLength > 0) this.#take(rest);
  }

  /** Connects, upgrades and runs the handshake (initialize + initialized). */
  static async connect(url: string, initialize: Message = {}): Promise<StallingClient> {
    const { hostname, port } = new URL(url.replace(/^ws:/, "http:"));
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.write(
      [
        "GET / HTTP/1.1",
        `Host: ${hostname}:${port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
      ].join("\r\n") + "\r\n\r\n",
    );
    const rest = await new Promise<Buffer>((resolve, reject) => {
      let received = Buffer.alloc(0);
      const onData = (data: Buffer): void => {
        received = Buffer.concat([received, data]);
        const end = received.indexOf("\r\n\r\n");
        if (end === -1) return;
        socket.off("data", onData);
        const status = received.subarray(0, end).toString("latin1").split(" ")[1];
        if (status !== "101") reject(new Error(`upgrade refused: ${received.toString()}`));
        else resolve(received.subarray(end + 4));
      };
      socket.on("data", onData);
    });
    const client = new StallingClient(socket, rest);
    const reply = await client.call("init", "initialize", { clientName: "stalling", ...initialize });
    const result = reply["result"] as { sessionId?: unknown } | undefined;
    if (typeof result?.sessionId !== "string") throw new Error(`initialize failed: ${JSON.stringify(reply)}`);
    client.sessionId = result.sessionId;
    client.notify("initialized", {});
    return client;
  }

  /** Sends a request without waiting for its reply. */
  send(id: string, method: string, params: unknown): void {
    this.#socket.write(encodeFrame(1, Buffer.from(JSON.stringify({ id, method, params }))));
  }

  /** Sends a request and waits for its reply (the socket must be reading). */
  async call(id: string, method: string, params: unknown): Promise<Message> {
    this.send(id, method, params);
    return await this.reply(id);
  }

  notify(method: string, params: unknown): void {
    this.#socket.write(encodeFrame(1, Buffer.from(JSON.stringify({ method, params }))));
  }

  /** Stops reading: the server's outbound data piles up. */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  /** The reply to `id`, with each `dataBase64` and `chunk` string replaced by its decoded length. */
  async reply(id: string): Promise<Message> {
    return await this.#until(() => this.#replies.get(id));
  }

  /** Resolves once `processId` has closed, with what its notifications carried. */
  async closedProcess(processId: string): Promise<ProcessNews> {
    return await this.#until(() => {
      const news = this.#news.get(processId);
      return news?.closed === true ? news : undefined;
    });
  }

  /** Resolves with the close status once the server has closed the connection. */
  async closed(): Promise<number | null> {
    await this.#until(() => (this.#ended ? true : undefined));
    return this.#closeCode;
  }

  /** Drops the TCP connection without a close handshake. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.destroy();
    await this.#until(() => (this.#ended ? true : undefined));
  }

  async #until<T>(found: () => T | undefined): Promise<T> {
    for (;;) {
      const value = found();
      if (value !== undefined) return value;
      if (this.#ended) throw new Error("the connection ended first");
      await new Promise<void>((resolve) => this.#watchers.push(resolve));
    }
  }

  #take(data: Buffer): void {
    this.#chunks.push(data);
    this.#buffered += data.byteLength;
    for (;;) {
      const header = this.#peek(Math.min(this.#buffered, 14));
      const frame = frameSize(header);
      if (frame === null || this.#buffered < frame.size) break;
      const whole = this.#peek(frame.size);
      this.#consume(frame.size);
      this.#frame((header[0] ?? 0) & 0x0f, whole.subarray(frame.headerBytes));
    }
    this.#wake();
  }

  /** The first `bytes` buffered bytes as one Buffer (concatenating only when a frame spans chunks). */
  #peek(bytes: number): Buffer {
    const first = this.#chunks[0];
    if (first !== undefined && first.byteLength >= bytes) return first.subarray(0, bytes);
    const joined = Buffer.concat(this.#chunks);
    this.#chunks.length = 0;
    this.#chunks.push(joined);
    return joined.subarray(0, bytes);
  }

  #consume(bytes: number): void {
    const first = this.#chunks[0];
    if (first === undefined) return;
    // #peek left the frame in the first chunk.
    if (first.byteLength === bytes) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(bytes);
    this.#buffered -= bytes;
  }

  #frame(opcode: number, payload: Buffer): void {
    if (opcode === 8) {
      // As a WebSocket client does: answer the Close frame, then end the stream.
      this.#closeCode = payload.byteLength >= 2 ? payload.readUInt16BE(0) : null;
      this.#socket.end(encodeFrame(8, payload.subarray(0, 2)));
      return;
    }
    if (opcode === 9) {
      this.#socket.write(encodeFrame(10, payload));
      return;
    }
    let message: Message;
    if (opcode === 1) message = JSON.parse(withPayloadLengths(payload)) as Message;
    else if (opcode === 2) {
      this.binaryFrames++;
      message = frameWithPayloadLength(payload);
    } else return;
    if (typeof message["id"] === "string") {
      this.#replies.set(message["id"], message);
      return;
    }
    const params = message["params"] as Message | undefined;
    const processId = params?.["processId"];
    if (typeof processId !== "string") return;
    const news = this.#news.get(processId) ?? { outputBytes: 0, exitCode: null, closed: false };
    this.#news.set(processId, news);
    if (message["method"] === "process/output") news.outputBytes += Number(params?.["chunk"]);
    if (message["method"] === "process/exited") news.exitCode = Number(params?.["exitCode"]);
    if (message["method"] === "process/closed") news.closed = true;
  }

  #wake(): void {
    const watchers = this.#watchers;
    this.#watchers = [];
    for (const wake of watchers) wake();
  }
}

/**
 * A binary frame (PROTOCOL.md §11.12) as the message `withPayloadLengths` makes of its text form:
 * the header, with the payload's length in the member that its base64 would fill.
 */
function frameWithPayloadLength(frame: Buffer): Message {
  const end = frame.indexOf(0x0a);
  const header = JSON.parse(frame.subarray(0, end).toString()) as Message;
  const payloadBytes = frame.byteLength - end - 1;
  if (typeof header["method"] === "string") {
    const { byteLength: _byteLength, ...params } = header["params"] as Message;
    return { ...header, params: { ...params, chunk: payloadBytes } };
  }
  return { ...header, result: { dataBase64: payloadBytes } };
}

/** The keys whose string values are base64 payloads. */
const PAYLOAD_KEYS = ['"dataBase64":"', '"chunk":"'].map((key) => Buffer.from(key));
const QUOTE = 0x22;
const EQUALS = 0x3d;

/**
 * The message's text with each base64 payload replaced by its decoded length. The payloads are
 * cut out of the bytes rather than parsed: decoding and parsing a 100 MB reply cost the test
 * process more CPU than the server spent producing it. A key's pattern cannot occur inside a
 * JSON string (its quotes would be escaped there), and base64 holds no quote, so the next quote
 * ends the payload.
 */
function withPayloadLengths(payload: Buffer): string {
  const parts: string[] = [];
  const next = PAYLOAD_KEYS.map((key) => payload.indexOf(key));
  let from = 0;
  for (;;) {
    let which = -1;
    next.forEach((at, index) => {
      if (at !== -1 && (which === -1 || at < (next[which] ?? 0))) which = index;
    });
    if (which === -1) break;
    const key = PAYLOAD_KEYS[which] ?? Buffer.alloc(0);
    const at = next[which] ?? 0;
    const start = at + key.byteLength;
    const end = payload.indexOf(QUOTE, start);
    if (end === -1) break;
    const padding = (payload[end - 1] === EQUALS ? 1 : 0) + (payload[end - 2] === EQUALS ? 1 : 0);
    parts.push(
      payload.toString("utf8", from, start - 1),
      String(Math.floor((end - start) * 3 / 4) - padding),
    );
    from = end + 1;
    next[which] = payload.indexOf(key, from);
  }
  parts.push(payload.toString("utf8", from));
  return parts.join("");
}

function frameSize(header: Buffer): { size: number; headerBytes: number } | null {
  if (header.byteLength < 2) return null;
  const length = (header[1] ?? 0) & 0x7f;
  if (length < 126) return { size: 2 + length, headerBytes: 2 };
  if (length === 126) {
    return header.byteLength < 4 ? null : { size: 4 + header.readUInt16BE(2), headerBytes: 4 };
  }
  if (header.byteLength < 10) return null;
  return { size: 10 + Number(header.readBigUInt64BE(2)), headerBytes: 10 };
}
