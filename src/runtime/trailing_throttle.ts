/**
 * Least time between two `releaseMemory` collections, on both runtimes. Releasing after every
 * large reply instead (collections held to a tenth of the time, tried) cut back-to-back 64 MiB
 * `fs/readFile` on Bun from 416–563 to 275–365 MB/s, the next reply faulting the pages given back
 * in again; Deno's did not move (docs/performance.md).
 */
export const RELEASE_INTERVAL_MS = 1_000;

/**
 * Runs an action at most once per interval, after the task that asked for it; a request inside the
 * interval is not dropped but deferred to its end, so the last of a burst still runs.
 */
export class TrailingThrottle {
  readonly #intervalMs: number;
  readonly #action: () => void;
  #last = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(intervalMs: number, action: () => void) {
    this.#intervalMs = intervalMs;
    this.#action = action;
  }

  /**
   * Runs the action once the current task is done, or at the end of the current interval. Never
   * synchronously: a caller still holds what it wants released (a reply's text, its result).
   */
  request(): void {
    if (this.#timer !== null) return;
    // Deferring is the point: a stream that ends right after another still gets its release.
    const wait = Math.max(0, this.#last + this.#intervalMs - performance.now());
    this.#timer = setTimeout(() => this.#run(), wait);
  }

  /**
   * Runs a request that waits out the interval once the current task is done instead. For a
   * server with no client left: nothing will fault the released pages in again soon, and the
   * memory a burst left stays resident until the run. Does nothing when no request waits.
   */
  flush(): void {
    if (this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), 0);
  }

  #run(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#last = performance.now();
    this.#action();
  }
}
