/**
 * A CPU-time budget for a process tree. The kernel has none: RLIMIT_CPU counts per process, and a
 * cgroup only reports its total (`cpu.stat`). So the total is checked at the earliest moment it
 * could have run out, when every CPU has worked for the tree since the last look.
 */

/** The shortest wait between two looks, which bounds the overshoot to this much per CPU. */
const MIN_STEP_MS = 100;
/** The longest delay a runtime timer holds: Bun and Deno fire after 1 ms past it. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * How long to wait before the next look, with `remainingSeconds` of budget left on `cpus` CPUs. A
 * long budget is looked at again once the longest timer has run, and waits again from there.
 */
export function checkDelayMs(remainingSeconds: number, cpus: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(MIN_STEP_MS, (remainingSeconds / cpus) * 1000));
}

/** Watches one tree's CPU time against `limitSeconds`. */
export class CpuBudget {
  readonly #limitSeconds: number;
  readonly #cpus: number;
  readonly #used: () => Promise<number | null>;
  readonly #exceeded: () => void;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;

  /**
   * `used` reads the tree's CPU seconds so far; `exceeded` runs once, when they reach the limit.
   * `cpus` is how many CPUs the tree can use at once.
   */
  constructor(
    limitSeconds: number,
    options: { cpus: number; used: () => Promise<number | null>; exceeded: () => void },
  ) {
    this.#limitSeconds = limitSeconds;
    this.#cpus = Math.max(1, options.cpus);
    this.#used = options.used;
    this.#exceeded = options.exceeded;
    this.#schedule(limitSeconds);
  }

  /** Stops watching (the process closed, or was killed for another reason). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(remainingSeconds: number): void {
    this.#timer = setTimeout(() => void this.#check(), checkDelayMs(remainingSeconds, this.#cpus));
  }

  async #check(): Promise<void> {
    this.#timer = null;
    const used = await this.#used();
    if (this.#stopped) return;
    if (used === null) {
      // The CPU time could not be read (descriptors short, say): a budget that stopped here left the
      // tree without a limit for as long as it lived. It looks again after the shortest step; its
      // owner stops it once the tree has closed, so a cgroup that is gone is not read for long.
      this.#schedule(0);
      return;
    }
    if (used >= this.#limitSeconds) {
      this.#stopped = true;
      this.#exceeded();
      return;
    }
    this.#schedule(this.#limitSeconds - used);
  }
}
