/**
 * A Bun server WebSocket as the runtime-neutral `WsConnection`, with an outbound queue in front of
 * Bun's own buffer. Bun (uWebSockets) keeps unsent bytes in one buffer and, as the socket drains,
 * erases what was written from its front, moving the rest each time: streaming through a backlog
 * of megabytes cost 1.6 s of CPU for 256 MiB where a backlog kept under a few hundred KiB cost
 * 0.45 s (measured, Bun 1.4.5). So messages wait here once Bun holds `BUN_BUFFER_BYTES`, and move
 * on as it drains; `bufferedAmount` counts both, so the server's back-pressure sees the same total.
 */
import type { WsConnection, WsHandlers } from "./runtime.ts";

/** How much Bun's own buffer may hold before messages wait in the queue. */
export const BUN_BUFFER_BYTES = 256 * 1024;

/** Per-socket state that Bun carries in `ws.data`. */
export interface SocketData {
  readonly handlers: WsHandlers;
  readonly remote: string;
  connection: BunConnection | null;
}

/** The connection of one Bun server socket. */
export class BunConnection implements WsConnection {
  readonly #ws: Bun.ServerWebSocket<SocketData>;
  /** Messages not yet handed to Bun, oldest first, from `#head` on. */
  #queue: Array<string | Uint8Array> = [];
  #head = 0;
  /**
   * Bytes waiting in the queue: a text message's characters stand for its bytes (the server's
   * JSON is ASCII but for what a client put in an id or a name).
   */
  #queued = 0;

  constructor(ws: Bun.ServerWebSocket<SocketData>) {
    this.#ws = ws;
  }

  get remote(): string {
    return this.#ws.data.remote;
  }

  send(message: string | Uint8Array): void {
    if (this.#head === this.#queue.length && this.#ws.getBufferedAmount() < BUN_BUFFER_BYTES) {
      this.#ws.send(message);
      return;
    }
    this.#queue.push(message);
    this.#queued += sizeOf(message);
  }

  bufferedAmount(): number {
    return this.#ws.getBufferedAmount() + this.#queued;
  }

  /** Hands every waiting message to Bun first, so the Close frame follows them. */
  close(code: number, reason: string): void {
    for (; this.#head < this.#queue.length; this.#head++) this.#ws.send(this.#queue[this.#head] ?? "");
    this.dropQueue();
    this.#ws.close(code, reason);
  }

  /** Ends the socket at once: what waits here or in Bun's buffer is dropped with it. */
  terminate(_code: number, _reason: string): void {
    this.dropQueue();
    this.#ws.terminate();
  }

  /** Bun's buffer drained some: move waiting messages on while it stays small. */
  drained(): void {
    while (this.#head < this.#queue.length && this.#ws.getBufferedAmount() < BUN_BUFFER_BYTES) {
      const message = this.#queue[this.#head] ?? "";
      this.#queue[this.#head++] = "";
      this.#queued -= sizeOf(message);
      this.#ws.send(message);
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The socket closed: what still waits is dropped, as Bun drops its own buffer. */
  dropQueue(): void {
    this.#queue = [];
    this.#head = 0;
    this.#queued = 0;
  }
}

function sizeOf(message: string | Uint8Array): number {
  return typeof message === "string" ? message.length : message.byteLength;
}

/** The connection of a socket, created on first use. */
export function connectionFor(ws: Bun.ServerWebSocket<SocketData>): BunConnection {
  const existing = ws.data.connection;
  if (existing !== null) return existing;
  const created = new BunConnection(ws);
  ws.data.connection = created;
  return created;
}
