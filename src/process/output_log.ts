import { encodeBase64, type ReadChunk, type StreamName } from "../protocol/mod.ts";
import { SeqWaiters } from "./seq_waiters.ts";

/** Largest chunk the log holds; bigger reads are split (PROTOCOL.md §5.4). */
export const MAX_CHUNK_BYTES = 65_536;

/**
 * The log keeps at most one chunk per this many bytes of its bound. A chunk costs the server some
 * hundred bytes beyond its own (its entry and base64 text), and a process that writes a byte at a
 * time leaves chunks of a few bytes: 1 MiB of them kept some 85,000 chunks, 10-15 MB per process.
 */
const BYTES_PER_KEPT_CHUNK = 64;
/** Chunks a log may keep however small its bound. */
const MIN_CHUNK_BOUND = 1024;

/** One retained output chunk; the base64 is computed once and shared by notifications and reads. */
export interface LogChunk {
  readonly seq: number;
  readonly stream: StreamName;
  readonly chunk: string;
  readonly byteLength: number;
}

/**
 * A chunk as the log keeps it: its base64, or its bytes, encoded again for each read (where the
 * runtime asks for that, `Runtime.keepsOutputBytes`). Kept as text, every chunk's base64 outlives
 * V8's young generation (30 s for a resume), and a Deno server copied it out of there and marked it
 * again in the old one: in the echo (64 processes × 256 KiB, 22 MB of base64 kept per run) that
 * was a sixth to a quarter of the server's CPU, most of it the collector's. Bytes sit outside the
 * heap, and the notification's base64 dies young.
 */
interface KeptChunk {
  readonly seq: number;
  readonly stream: StreamName;
  readonly byteLength: number;
  readonly text: string | null;
  readonly bytes: Uint8Array | null;
}

/** How a log that keeps bytes encodes them for a read, and where they go once dropped. */
export interface OutputLogCodec {
  readonly encode?: (bytes: Uint8Array) => string;
  readonly release?: (bytes: Uint8Array) => void;
}

/** What a read takes from the log. */
export interface LogSnapshot {
  readonly chunks: ReadChunk[];
  readonly nextSeq: number;
  readonly droppedBytes: number;
}

/**
 * One process's output log: chunks, `exited` and `closed` share one gap-free seq space from 1.
 * Chunk data is bounded; whole chunks fall off the front and are counted.
 */
export class OutputLog {
  readonly #retainLimit: number;
  /** The most chunks kept, whatever their bytes (see `BYTES_PER_KEPT_CHUNK`). */
  readonly #maxChunks: number;
  /** Retained chunks from `#head` on; the slots before it are emptied as chunks drop. */
  #chunks: Array<KeptChunk | undefined> = [];
  #head = 0;
  #retainedBytes = 0;
  #droppedBytes = 0;
  #lastDroppedSeq = 0;
  #totalBytes = 0;
  #nextSeq = 1;
  #exitedSeq: number | null = null;
  #closedSeq: number | null = null;
  /** Pending long polls by the seq they wait past; an aborted poll removes its own at once. */
  readonly #waiters = new SeqWaiters();

  readonly #encode: (bytes: Uint8Array) => string;
  readonly #release: (bytes: Uint8Array) => void;

  /**
   * `encode` turns kept bytes into a read's base64 (the runtime's fastest encoder); `release`
   * gets kept bytes back once the log has dropped them.
   */
  constructor(retainLimit: number, codec: OutputLogCodec = {}) {
    this.#retainLimit = retainLimit;
    this.#encode = codec.encode ?? encodeBase64;
    this.#release = codec.release ?? (() => {});
    this.#maxChunks = Math.max(MIN_CHUNK_BOUND, Math.floor(retainLimit / BYTES_PER_KEPT_CHUNK));
  }

  /**
   * Appends a chunk (≤ MAX_CHUNK_BYTES) and returns it with its seq. With `bytes` (the chunk's,
   * which the log owns from here on) the log keeps those instead of `chunk`, their base64.
   */
  appendChunk(
    stream: StreamName,
    chunk: string,
    byteLength: number,
    bytes: Uint8Array | null = null,
  ): LogChunk {
    const entry: LogChunk = { seq: this.#nextSeq++, stream, chunk, byteLength };
    this.#chunks.push({
      seq: entry.seq,
      stream,
      byteLength,
      text: bytes === null ? chunk : null,
      bytes,
    });
    this.#retainedBytes += byteLength;
    this.#totalBytes += byteLength;
    while (this.#retainedBytes > this.#retainLimit || this.#chunks.length - this.#head > this.#maxChunks) {
      if (this.#dropHead() === null) break;
    }
    this.#compact();
    this.#waiters.wakeBefore(entry.seq);
    return entry;
  }

  /**
   * Drops whole chunks from the front until at least `bytes` are gone or none is left (the
   * server's bound on running processes' output needs the room); returns the bytes dropped.
   */
  dropOldest(bytes: number): number {
    let dropped = 0;
    while (dropped < bytes) {
      const size = this.#dropHead();
      if (size === null) break;
      dropped += size;
    }
    this.#compact();
    return dropped;
  }

  /** Drops the oldest chunk and returns its size; null when none is left. */
  #dropHead(): number | null {
    if (this.#head >= this.#chunks.length) return null;
    const dropped = this.#chunks[this.#head];
    if (dropped === undefined) return null;
    // Empty the slot: a dropped chunk's base64 must not stay reachable until the next
    // compaction (up to a thousand 64 KiB chunks per process on a fast stream).
    this.#chunks[this.#head] = undefined;
    this.#head++;
    this.#retainedBytes -= dropped.byteLength;
    this.#droppedBytes += dropped.byteLength;
    this.#lastDroppedSeq = dropped.seq;
    if (dropped.bytes !== null) this.#release(dropped.bytes);
    return dropped.byteLength;
  }

  /** Compacts rarely, so dropping stays O(1) amortized without Array.shift. */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Appends the exit event and returns its seq. */
  appendExited(): number {
    this.#exitedSeq = this.#nextSeq++;
    this.#waiters.wakeBefore(this.#exitedSeq);
    return this.#exitedSeq;
  }

  /** Appends the close event (always last) and returns its seq. */
  appendClosed(): number {
    this.#closedSeq = this.#nextSeq++;
    this.#waiters.wakeAll();
    return this.#closedSeq;
  }

  /**
   * Drops every retained chunk, counted as dropped (the server's bound on closed processes' output
   * needs the room); returns the bytes dropped.
   */
  dropAll(): number {
    const dropped = this.#retainedBytes;
    for (let index = this.#head; index < this.#chunks.length; index++) {
      const entry = this.#chunks[index];
      if (entry === undefined) continue;
      this.#lastDroppedSeq = entry.seq;
      if (entry.bytes !== null) this.#release(entry.bytes);
    }
    this.#chunks = [];
    this.#head = 0;
    this.#retainedBytes = 0;
    this.#droppedBytes += dropped;
    return dropped;
  }

  /** Chunk bytes the log holds now. */
  get retainedBytes(): number {
    return this.#retainedBytes;
  }

  /** Wakes waiters without an append (a failure was recorded). */
  touch(): void {
    this.#waiters.wakeAll();
  }

  /** The seq the next event would get. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  get exitedSeq(): number | null {
    return this.#exitedSeq;
  }

  get closedSeq(): number | null {
    return this.#closedSeq;
  }

  /** Every output byte ever appended, dropped ones included. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Whether a read with `afterSeq` should answer now on the log's own account (§5.6 rules 1–3). */
  hasNewsAfter(afterSeq: number): boolean {
    if (this.#closedSeq !== null) return true;
    if (this.#exitedSeq !== null && this.#exitedSeq > afterSeq) return true;
    const last = this.#chunks[this.#chunks.length - 1];
    return last !== undefined && this.#chunks.length > this.#head && last.seq > afterSeq;
  }

  /**
   * Resolves once an event past `afterSeq` is appended (the next one by default), at the close or
   * a `touch`, or on abort; callers re-check their condition.
   */
  changed(signal: AbortSignal, afterSeq = -1): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const woken = (): void => {
      signal.removeEventListener("abort", aborted);
      resolve();
    };
    const remove = this.#waiters.add(afterSeq, woken);
    // A poll that times out on a silent process leaves nothing behind: otherwise every expired
    // poll would stay queued until the next append.
    const aborted = (): void => {
      remove();
      resolve();
    };
    signal.addEventListener("abort", aborted, { once: true });
    return promise;
  }

  /** The chunks after `afterSeq` per the selection and nextSeq rules of §5.6. */
  snapshot(afterSeq: number, maxBytes: number | null): LogSnapshot {
    const chunks: ReadChunk[] = [];
    let index = this.#firstIndexAfter(afterSeq);
    let total = 0;
    for (; index < this.#chunks.length; index++) {
      const entry = this.#chunks[index];
      if (entry === undefined) break;
      if (maxBytes !== null && chunks.length > 0 && total + entry.byteLength > maxBytes) break;
      total += entry.byteLength;
      const chunk = entry.text ?? this.#encode(entry.bytes ?? new Uint8Array(0));
      chunks.push({ seq: entry.seq, stream: entry.stream, chunk });
    }
    const last = chunks[chunks.length - 1];
    const nextSeq = maxBytes !== null && last !== undefined ? last.seq + 1 : this.#nextSeq;
    const droppedBytes = this.#lastDroppedSeq > afterSeq ? this.#droppedBytes : 0;
    return { chunks, nextSeq, droppedBytes };
  }

  /**
   * The chunk bytes `snapshot(afterSeq, maxBytes)` would select now, counted up to just past `cap`
   * (a larger answer is cut short there: the caller only asks whether it is over).
   */
  selectedBytes(afterSeq: number, maxBytes: number | null, cap: number): number {
    let total = 0;
    let count = 0;
    for (let index = this.#firstIndexAfter(afterSeq); index < this.#chunks.length && total <= cap; index++) {
      const entry = this.#chunks[index];
      if (entry === undefined) break;
      if (maxBytes !== null && count > 0 && total + entry.byteLength > maxBytes) break;
      total += entry.byteLength;
      count++;
    }
    return total;
  }

  #firstIndexAfter(afterSeq: number): number {
    let low = this.#head;
    let high = this.#chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const entry = this.#chunks[middle];
      if (entry !== undefined && entry.seq <= afterSeq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** How many long polls wait on this log (for tests and metrics). */
  get waiterCount(): number {
    return this.#waiters.size;
  }
}
