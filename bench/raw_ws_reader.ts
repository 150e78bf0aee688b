/**
 * A WebSocket client on a bare TCP socket, run under Deno, that reads each binary message straight
 * into one buffer kept for the connection: every `read(2)` lands where the bytes belong, as large as
 * the kernel gives, with no copy of the message and no message event. Next to Bun's `WebSocket`
 * (the bench's client, which reads 512 KiB per wake-up and then copies the message whole) it shows
 * what of a large reply's time is the client's (bench/readfile_probe.ts). It speaks only what the
 * probe needs: the handshake, masked text messages out, unfragmented unmasked messages in.
 *
 * Usage: `deno run -A bench/raw_ws_reader.ts URL (rpc|bare) READS FILE_URI`; prints the ms of each
 * read as a JSON array. `rpc` talks to an exec-server (initialize with binary frames, then
 * `fs/readFile`), `bare` to bench/bare_file_server.ts (any text is answered with the file).
 */

export {};

interface DenoConn {
  read(into: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

interface DenoNet {
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  args: string[];
}

// Deno is a global only under Deno; bun-types does not declare it.
const deno = (globalThis as unknown as { Deno: DenoNet }).Deno;
const TEXT = new TextEncoder();

/** A connection that reads through `buffer`; bytes read past the current need wait in `#spare`. */
class RawReader {
  readonly #conn: DenoConn;
  readonly #buffer: Uint8Array;
  #spare: Uint8Array = new Uint8Array(0);

  constructor(conn: DenoConn, capacity: number) {
    this.#conn = conn;
    this.#buffer = new Uint8Array(capacity);
  }

  /** Reads exactly `length` bytes into `buffer` at `offset`. */
  async #fill(offset: number, length: number): Promise<void> {
    let done = Math.min(this.#spare.byteLength, length);
    this.#buffer.set(this.#spare.subarray(0, done), offset);
    this.#spare = this.#spare.subarray(done);
    while (done < length) {
      const n = await this.#conn.read(this.#buffer.subarray(offset + done, offset + length));
      if (n === null) throw new Error("connection closed");
      done += n;
    }
  }

  /** The opening handshake; keeps what follows the response's head. */
  async handshake(hostname: string, port: number): Promise<void> {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await this.#writeAll(TEXT.encode(
      `GET / HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    let head = new Uint8Array(0);
    for (;;) {
      const chunk = new Uint8Array(4096);
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Error("connection closed in the handshake");
      const joined = new Uint8Array(head.byteLength + n);
      joined.set(head);
      joined.set(chunk.subarray(0, n), head.byteLength);
      head = joined;
      const text = new TextDecoder().decode(head);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      if (!text.startsWith("HTTP/1.1 101")) throw new Error(text.split("\r\n")[0]);
      this.#spare = head.slice(end + 4);
      return;
    }
  }

  /** Sends `text` as one masked text message (under 64 KiB). */
  async sendText(text: string): Promise<void> {
    const payload = TEXT.encode(text);
    const length = payload.byteLength;
    const head = length < 126 ? [0x81, 0x80 | length] : [0x81, 0x80 | 126, length >> 8, length & 0xff];
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const frame = new Uint8Array(head.length + 4 + length);
    frame.set(head);
    frame.set(mask, head.length);
    for (let i = 0; i < length; i++) frame[head.length + 4 + i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
    await this.#writeAll(frame);
  }

  /** The next message's opcode and payload (a view that the next call overwrites). */
  async next(): Promise<{ opcode: number; payload: Uint8Array }> {
    await this.#fill(0, 2);
    const first = this.#buffer[0] ?? 0;
    const short = (this.#buffer[1] ?? 0) & 0x7f;
    if ((first & 0x80) === 0) throw new Error("raw reader does not take fragmented messages");
    let length = short;
    if (short >= 126) {
      const extra = short === 126 ? 2 : 8;
      await this.#fill(2, extra);
      const view = new DataView(this.#buffer.buffer, 2, extra);
      length = short === 126 ? view.getUint16(0) : Number(view.getBigUint64(0));
    }
    await this.#fill(0, length);
    return { opcode: first & 0x0f, payload: this.#buffer.subarray(0, length) };
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.byteLength;) done += await this.#conn.write(bytes.subarray(done));
  }

  close(): void {
    this.#conn.close();
  }
}

const [url = "", mode = "rpc", readsText = "5", fileUri = ""] = deno.args;
const { hostname, port } = new URL(url);
const reader = new RawReader(await deno.connect({ hostname, port: Number(port) }), 80 * 1024 * 1024);
await reader.handshake(hostname, Number(port));
if (mode === "rpc") {
  await reader.sendText(
    JSON.stringify({ id: 1, method: "initialize", params: { clientName: "raw", binaryFrames: true } }),
  );
  const { payload } = await reader.next();
  if (!new TextDecoder().decode(payload).includes('"binaryFrames":true')) throw new Error("no binary frames");
  await reader.sendText('{"method":"initialized","params":{}}');
}
const times: number[] = [];
for (let i = 0; i < Number(readsText); i++) {
  const start = performance.now();
  await reader.sendText(
    mode === "rpc"
      ? JSON.stringify({ id: 10 + i, method: "fs/readFile", params: { path: fileUri } })
      : "read",
  );
  const { opcode, payload } = await reader.next();
  times.push(performance.now() - start);
  if (opcode !== 2 || payload.byteLength < 64 * 1024 * 1024) {
    throw new Error("no whole file in a binary message");
  }
}
reader.close();
console.log(JSON.stringify(times));
