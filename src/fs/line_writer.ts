const UTF8 = new TextEncoder();

/** One queued message: a line and the raw bytes that follow it, if any. */
interface Queued {
  readonly line: string;
  readonly payload: Uint8Array | null;
}

/**
 * Writes lines to a byte sink one write at a time, batching the lines queued while a write is in
 * progress into the next write, so pipelined messages cost one system call per batch and never
 * interleave. A line may carry a payload of raw bytes that follows its newline; the payload goes
 * to the sink as it is, without a copy.
 */
export class LineWriter {
  readonly #sink: (data: Uint8Array) => Promise<void>;
  #queue: Queued[] = [];
  #waiters: PromiseWithResolvers<void>[] = [];
  #writing = false;

  constructor(sink: (data: Uint8Array) => Promise<void>) {
    this.#sink = sink;
  }

  /**
   * Queues `line` (without its newline) and `payload` after it; resolves once both are written,
   * rejects if the sink fails.
   */
  write(line: string, payload: Uint8Array | null = null): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#queue.push({ line, payload });
    this.#waiters.push(done);
    if (!this.#writing) void this.#drain();
    return done.promise;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const queued = this.#queue;
      const waiters = this.#waiters;
      this.#queue = [];
      this.#waiters = [];
      try {
        let lines: string[] = [];
        for (const { line, payload } of queued) {
          lines.push(line);
          if (payload === null || payload.length === 0) continue;
          await this.#sink(encodeLines(lines));
          lines = [];
          await this.#sink(payload);
        }
        if (lines.length > 0) await this.#sink(encodeLines(lines));
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#writing = false;
  }
}

function encodeLines(lines: readonly string[]): Uint8Array {
  return UTF8.encode(lines.join("\n") + "\n");
}
