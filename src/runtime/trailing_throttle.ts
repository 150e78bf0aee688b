/** How often `TrailingThrottle` may run its action. */
export interface ThrottleBudget {
  /** The largest share of the time the action may take: after a run of d ms, the next waits d / share. */
  readonly share: number;
  /** The least time between two runs, however quick the action. */
  readonly minIntervalMs: number;
}

/**
 * The budget of `releaseMemory` on both runtimes: a collection of a server's heap takes 10–50 ms
 * here, so memory a large reply or stream left comes back within a fraction of a second of it
 * (with a fixed second between releases, a reply that followed another kept up to 300 MiB
 * resident for that second), and the collections take at most a tenth of the server's time.
 */
export const RELEASE_BUDGET: ThrottleBudget = { share: 0.1, minIntervalMs: 50 };

/**
 * Runs an action within a share of the time, after the task that asked for it; a request inside
 * the interval is not dropped but deferred to its end, so the last of a burst still runs. The
 * interval follows what the action costs: memory is given back soon after the work that left it
 * when that is cheap, and a costly release cannot take more than its share of the process.
 */
export class TrailingThrottle {
  readonly #budget: ThrottleBudget;
  readonly #action: () => void;
  #nextAt = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(budget: ThrottleBudget, action: () => void) {
    this.#budget = budget;
    this.#action = action;
  }

  /**
   * Runs the action once the current task is done, or at the end of the current interval. Never
   * synchronously: a caller still holds what it wants released (a reply's text, its result).
   */
  request(): void {
    if (this.#timer !== null) return;
    // Deferring is the point: a stream that ends right after another still gets its release.
    const wait = Math.max(0, this.#nextAt - performance.now());
    this.#timer = setTimeout(() => this.#run(), wait);
  }

  #run(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const started = performance.now();
    this.#action();
    const tookMs = performance.now() - started;
    this.#nextAt = started + Math.max(this.#budget.minIntervalMs, tookMs / this.#budget.share);
  }
}
