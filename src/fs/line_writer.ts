const UTF8 = new TextEncoder();

/**
 * Writes lines to a byte sink one write at a time, batching the lines queued while a write is in
 * progress into the next write, so pipelined messages cost one system call per batch and never
 * interleave.
 */
export class LineWriter {
  readonly #sink: (data: Uint8Array) => Promise<void>;
  #queue: string[] = [];
  #waiters: PromiseWithResolvers<void>[] = [];
  #writing = false;

  constructor(sink: (data: Uint8Array) => Promise<void>) {
    this.#sink = sink;
  }

  /** Queues `line` (without its newline); resolves once it is written, rejects if the sink fails. */
  write(line: string): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#queue.push(line);
    this.#waiters.push(done);
    if (!this.#writing) void this.#drain();
    return done.promise;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const lines = this.#queue;
      const waiters = this.#waiters;
      this.#queue = [];
      this.#waiters = [];
      try {
        await this.#sink(UTF8.encode(lines.join("\n") + "\n"));
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#writing = false;
  }
}
