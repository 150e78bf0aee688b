import type { WriteStatus } from "../protocol/mod.ts";
import type { StdinSink } from "../runtime/mod.ts";
import type { InputAccount } from "./input_budget.ts";

/** Unconsumed input above which a write waits (PROTOCOL.md §5.7). */
export const STDIN_BACKPRESSURE_BYTES = 1_048_576;

interface Waiter {
  readonly threshold: number;
  readonly resolve: (status: WriteStatus) => void;
}

/** Queued bytes, with the write that waits for them to be answered when it waits. */
interface Entry {
  readonly data: Uint8Array;
  readonly waiter: Waiter | null;
}

/**
 * A child's stdin in arrival order: writes are queued at once and handed to the sink one after
 * another; a write whose earlier input exceeds the bound is answered once the child drains it.
 */
export class StdinQueue {
  readonly #sink: StdinSink;
  readonly #budget: InputAccount;
  readonly #written: (data: Uint8Array) => void;
  /** Bytes queued or being written: what this queue holds of the budget. */
  #heldBytes = 0;
  #queue: Array<Entry | "close"> = [];
  #queuedBytes = 0;
  #consumedBytes = 0;
  #pumping = false;
  #closed = false;
  #waiters: Waiter[] = [];

  /** `written` gets each write's bytes once the sink has taken them (their memory may go back). */
  constructor(sink: StdinSink, budget: InputAccount, written: (data: Uint8Array) => void = () => {}) {
    this.#sink = sink;
    this.#budget = budget;
    this.#written = written;
  }

  /** Whether no more bytes are accepted. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues `data`; answers `accepted`, or `stdinClosed` when the pipe no longer takes bytes. Throws
   * -32001 (LimitReached) when the server holds too much unread input to take it (nothing queued).
   */
  write(data: Uint8Array): Promise<WriteStatus> {
    if (this.#closed) return Promise.resolve("stdinClosed");
    if (data.byteLength === 0) return Promise.resolve("accepted");
    this.#budget.take(data.byteLength);
    this.#heldBytes += data.byteLength;
    const earlier = this.#queuedBytes;
    this.#queuedBytes += data.byteLength;
    if (earlier - this.#consumedBytes <= STDIN_BACKPRESSURE_BYTES) {
      this.#queue.push({ data, waiter: null });
      this.#kick();
      return Promise.resolve("accepted");
    }
    const { promise, resolve } = Promise.withResolvers<WriteStatus>();
    const waiter = { threshold: earlier - STDIN_BACKPRESSURE_BYTES, resolve };
    this.#waiters.push(waiter);
    this.#queue.push({ data, waiter });
    this.#kick();
    return promise;
  }

  /**
   * The process is over (closed): no write is taken from here on, and the writes still held back
   * answer `stdinClosed` with their bytes dropped, since a descendant that keeps stdin open
   * without reading it would otherwise hold them (and their callers) for as long as it lives.
   * What was accepted goes on to the pipe, then the pipe closes.
   */
  end(): void {
    const waiting = new Set(this.#waiters);
    this.#waiters = [];
    this.#queue = this.#queue.filter((item) => {
      if (item === "close" || item.waiter === null) return true;
      this.#drop(item.data.byteLength);
      return false;
    });
    for (const waiter of waiting) waiter.resolve("stdinClosed");
    void this.close();
  }

  /** Closes the sink after the queued bytes; `stdinClosed` if it was closed already. */
  close(): Promise<"accepted" | "stdinClosed"> {
    if (this.#closed) return Promise.resolve("stdinClosed");
    this.#closed = true;
    this.#queue.push("close");
    this.#kick();
    return Promise.resolve("accepted");
  }

  /** Refuses later writes without closing the sink (a terminal got its end-of-file character). */
  markClosed(): void {
    this.#closed = true;
  }

  #kick(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
        if (item === "close") {
          await this.#sink.close();
          continue;
        }
        await this.#sink.write(item.data);
        this.#consumedBytes += item.data.byteLength;
        this.#drop(item.data.byteLength);
        this.#written(item.data);
        this.#release();
      }
    } catch {
      // The reader is gone (EPIPE) or the sink broke: the pipe takes no more bytes.
      this.#fail();
    } finally {
      this.#pumping = false;
    }
  }

  #release(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (this.#consumedBytes >= waiter.threshold) waiter.resolve("accepted");
      else still.push(waiter);
    }
    this.#waiters = still;
  }

  /** `bytes` of input left this queue: written, or dropped. */
  #drop(bytes: number): void {
    this.#heldBytes -= bytes;
    this.#budget.give(bytes);
  }

  #fail(): void {
    this.#closed = true;
    this.#queue = [];
    // What was queued, and the write that failed, are gone.
    this.#drop(this.#heldBytes);
    for (const waiter of this.#waiters) waiter.resolve("stdinClosed");
    this.#waiters = [];
    void this.#sink.close().catch(() => {});
  }
}
