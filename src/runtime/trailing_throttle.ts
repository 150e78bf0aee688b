/**
 * Runs an action at most once per interval; a request inside the interval is not dropped but
 * deferred to its end, so the last of a burst still runs.
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

  /** Runs the action now, or once at the end of the current interval. */
  request(): void {
    const wait = this.#last + this.#intervalMs - performance.now();
    if (wait <= 0) {
      this.#run();
    } else if (this.#timer === null) {
      // Deferring is the point: a stream that ends right after another still gets its release.
      this.#timer = setTimeout(() => this.#run(), wait);
    }
  }

  #run(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#last = performance.now();
    this.#action();
  }
}
