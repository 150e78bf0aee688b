/**
 * Memory for the bytes of `process/write`, reused once a child's stdin has taken them. Each write
 * decoded into a fresh array, and a fresh 64 KiB array costs more than its decoding: the runtime
 * zeroes it and the kernel faults its pages in (the echo, 256 writes of 64 KiB per run: Deno 176
 * against 7 µs per decode into reused memory, Bun 61 against 7).
 */

/** Bytes of one buffer: the 64 KiB writes of Codex and of the bench fill one. */
const BUFFER_BYTES = 65_536;
/** Buffers kept for reuse: 2 MiB in all, enough for the writes of many children at once. */
const POOL_LIMIT = 32;

/**
 * A pool of write buffers. A write of at least half a buffer takes one (from the pool, or a new
 * one); a smaller or larger write gets no buffer here, so that no buffer holds more than twice the
 * bytes it carries while it waits in a stdin queue (the input budget counts the bytes).
 */
export class InputBuffers {
  readonly #free: ArrayBuffer[] = [];
  /** The buffers this pool made: only those come back. */
  readonly #made = new WeakSet<ArrayBuffer>();

  /** A view of exactly `byteLength` bytes for a decode to fill, or null. */
  take(byteLength: number): Uint8Array | null {
    if (byteLength * 2 < BUFFER_BYTES || byteLength > BUFFER_BYTES) return null;
    let buffer = this.#free.pop();
    if (buffer === undefined) {
      buffer = new ArrayBuffer(BUFFER_BYTES);
      this.#made.add(buffer);
    }
    return new Uint8Array(buffer, 0, byteLength);
  }

  /**
   * `bytes` are written (the sink's write has resolved) and nothing refers to them any more: their
   * buffer may take a later write. Bytes from elsewhere are left alone.
   */
  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || !this.#made.has(buffer) || buffer.detached) return;
    if (this.#free.length < POOL_LIMIT && !this.#free.includes(buffer)) this.#free.push(buffer);
  }

  /** Buffers waiting in the pool (a diagnostic). */
  get pooled(): number {
    return this.#free.length;
  }
}

/** The server's pool, shared by every session's processes. */
export const INPUT_BUFFERS = new InputBuffers();
