/**
 * A hand-made HTTP/WebSocket client over one TCP socket, for what a browser-style client cannot
 * show: the exact status and headers of a refused upgrade, and a half-closed transport.
 */
import { connect } from "node:net";
import type { Socket } from "node:net";

/** The parsed head of an HTTP response. */
export interface ResponseHead {
  readonly status: number;
  /** Header names in lowercase. */
  readonly headers: Record<string, string>;
  /** The body when the response is not 101 (read up to Content-Length). */
  readonly body: string;
}

/** A received WebSocket frame. */
export interface Frame {
  readonly opcode: number;
  readonly payload: Buffer;
}

const HEAD_END = "\r\n\r\n";

/** A raw TCP connection that has sent an upgrade request. */
export class RawSocket implements AsyncDisposable {
  readonly socket: Socket;
  readonly head: ResponseHead;
  readonly frames: Frame[] = [];
  /** Resolves when the server has closed its side (FIN or reset). */
  readonly ended: Promise<void>;
  #buffer: Buffer;
  #watchers: Array<() => void> = [];
  #ended = false;

  private constructor(socket: Socket, head: ResponseHead, rest: Buffer) {
    this.socket = socket;
    this.head = head;
    this.#buffer = rest;
    this.ended = new Promise((resolve) => {
      const finish = (): void => {
        this.#ended = true;
        this.#wake();
        resolve();
      };
      socket.once("end", finish);
      socket.once("close", finish);
    });
    socket.on("data", (data: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, data]);
      this.#parseFrames();
    });
    this.#parseFrames();
  }

  /**
   * Opens a TCP connection to the server of `url` and sends a WebSocket upgrade for `path` with
   * extra `headers`; resolves once the response head (and a non-101 body) has arrived.
   */
  static async upgrade(
    url: string,
    options: { path?: string; headers?: Record<string, string>; host?: string } = {},
  ): Promise<RawSocket> {
    const { hostname, port } = new URL(url.replace(/^ws:/, "http:"));
    const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const lines = [
      `GET ${options.path ?? "/"} HTTP/1.1`,
      `Host: ${options.host ?? `${hostname}:${port}`}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.write(lines.join("\r\n") + HEAD_END);
    let received = Buffer.alloc(0);
    const { head, rest } = await new Promise<{ head: ResponseHead; rest: Buffer }>((resolve, reject) => {
      const onData = (data: Buffer): void => {
        received = Buffer.concat([received, data]);
        const parsed = parseHead(received);
        if (parsed === null) return;
        socket.off("data", onData);
        socket.off("end", onEnd);
        resolve(parsed);
      };
      const onEnd = (): void =>
        reject(new Error(`connection ended before a response: ${received.toString()}`));
      socket.on("data", onData);
      socket.once("end", onEnd);
    });
    return new RawSocket(socket, head, rest);
  }

  /** Sends a masked text (or binary) frame. */
  send(text: string | Uint8Array): void {
    const payload = typeof text === "string" ? Buffer.from(text) : Buffer.from(text);
    this.socket.write(encodeFrame(typeof text === "string" ? 1 : 2, payload));
  }

  /** Sends one masked frame with any opcode and payload (to send what a normal client cannot). */
  sendFrame(opcode: number, payload: Uint8Array): void {
    this.socket.write(encodeFrame(opcode, Buffer.from(payload)));
  }

  /** The close status the server sent, once a Close frame has arrived. */
  closeCode(): number | null {
    const frame = this.frames.find((candidate) => candidate.opcode === 8);
    return frame === undefined || frame.payload.byteLength < 2 ? null : frame.payload.readUInt16BE(0);
  }

  /** Sends our FIN: the server sees the transport end while we can still read. */
  halfClose(): void {
    this.socket.end();
  }

  /** The text frames received so far, parsed as JSON. */
  messages(): Record<string, unknown>[] {
    return this.frames.filter((frame) => frame.opcode === 1).map((frame) =>
      JSON.parse(frame.payload.toString()) as Record<string, unknown>
    );
  }

  /** Resolves with the first message satisfying `predicate`; rejects when the socket ends first. */
  async waitForMessage(
    predicate: (message: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.messages().find(predicate);
      if (found !== undefined) return found;
      if (this.#ended) throw new Error("socket ended while waiting for a message");
      await new Promise<void>((resolve) => this.#watchers.push(resolve));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.socket.destroy();
    await this.ended;
  }

  #parseFrames(): void {
    for (;;) {
      const frame = decodeFrame(this.#buffer);
      if (frame === null) break;
      this.#buffer = this.#buffer.subarray(frame.size);
      this.frames.push({ opcode: frame.opcode, payload: frame.payload });
      if (frame.opcode === 9 && !this.socket.writableEnded) this.socket.write(encodeFrame(10, frame.payload));
    }
    this.#wake();
  }

  #wake(): void {
    const watchers = this.#watchers;
    this.#watchers = [];
    for (const wake of watchers) wake();
  }
}

/** Sends one plain HTTP request with an exact `Host` and resolves with the response head and body. */
export async function rawRequest(
  url: string,
  options: { path: string; host: string; method?: string },
): Promise<ResponseHead> {
  const { hostname, port } = new URL(url.replace(/^ws:/, "http:"));
  const socket = connect({ host: hostname, port: Number(port) });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.write(
      `${options.method ?? "GET"} ${options.path} HTTP/1.1\r\nHost: ${options.host}${HEAD_END}`,
    );
    let received = Buffer.alloc(0);
    return await new Promise<ResponseHead>((resolve, reject) => {
      socket.on("data", (data: Buffer) => {
        received = Buffer.concat([received, data]);
        const parsed = parseHead(received);
        if (parsed !== null) resolve(parsed.head);
      });
      socket.once(
        "end",
        () => reject(new Error(`connection ended before a response: ${received.toString()}`)),
      );
    });
  } finally {
    socket.destroy();
  }
}

function parseHead(data: Buffer): { head: ResponseHead; rest: Buffer } | null {
  const end = data.indexOf(HEAD_END);
  if (end === -1) return null;
  const [statusLine = "", ...headerLines] = data.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon !== -1) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(statusLine.split(" ")[1]);
  let rest = data.subarray(end + HEAD_END.length);
  if (status === 101) return { head: { status, headers, body: "" }, rest };
  const length = Number(headers["content-length"] ?? "0");
  if (rest.byteLength < length) return null;
  const body = rest.subarray(0, length).toString();
  rest = rest.subarray(length);
  return { head: { status, headers, body }, rest };
}

/**
 * Encodes one masked client frame. Masking is required, its value is not: a zero mask (as the
 * hostile-load probe passes) leaves the payload as is and skips the XOR.
 */
export function encodeFrame(opcode: number, payload: Buffer, mask: Buffer = DEFAULT_MASK): Buffer {
  let header: Buffer;
  if (payload.byteLength < 126) {
    header = Buffer.from([0x80 | opcode, 0x80 | payload.byteLength]);
  } else if (payload.byteLength < 65_536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(payload.byteLength, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(payload.byteLength), 2);
  }
  if (mask.every((byte) => byte === 0)) return Buffer.concat([header, mask, payload]);
  const masked = Buffer.alloc(payload.byteLength);
  for (let i = 0; i < payload.byteLength; i++) masked[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return Buffer.concat([header, mask, masked]);
}

const DEFAULT_MASK = Buffer.from([0x12, 0x34, 0x56, 0x78]);

/** Decodes one WebSocket frame from the front of `data`, or null while it is incomplete. */
export function decodeFrame(data: Buffer): { opcode: number; payload: Buffer; size: number } | null {
  if (data.byteLength < 2) return null;
  const opcode = (data[0] ?? 0) & 0x0f;
  let length = (data[1] ?? 0) & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (data.byteLength < 4) return null;
    length = data.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (data.byteLength < 10) return null;
    length = Number(data.readBigUInt64BE(2));
    offset = 10;
  }
  if (data.byteLength < offset + length) return null;
  return { opcode, payload: data.subarray(offset, offset + length), size: offset + length };
}
