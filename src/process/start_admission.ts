/**
 * How many of one session's starts do their steps before the spawn at once. Those steps (the
 * program lookup, the process's cgroup, the sandbox's plan) are round trips to the runtime's thread
 * pool, which serves every session first come first served, and the spawns they lead to go one at
 * a time in turns anyway (`SpawnTurns`). A pipelined burst of 1,000 starts queued some 2,000 cgroup
 * mkdirs there at once, and another session's start, which makes its session's cgroups and then its
 * process's one step after another, waited behind them at each step (100-750 ms per step on Deno,
 * marks inside a traced copy of the server), while the burst's spawns went on. Admitted a few at a
 * time, a session keeps no more than a few starts' work in the pool, and another's waits behind that.
 */
export const STARTS_ADMITTED = 8;

/** A session's starts past their synchronous checks, admitted `STARTS_ADMITTED` at a time. */
export class StartAdmission {
  readonly #limit: number;
  #admitted = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number = STARTS_ADMITTED) {
    this.#limit = limit;
  }

  /** Starts admitted and not yet left. */
  get admitted(): number {
    return this.#admitted;
  }

  /** Starts waiting to be admitted. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Null when the start is admitted at once, else a promise that resolves when it is, in order. */
  enter(): Promise<void> | null {
    if (this.#admitted < this.#limit) {
      this.#admitted++;
      return null;
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiting.push(resolve);
    return promise;
  }

  /** An admitted start has spawned or failed: the next waiting one takes its place. */
  leave(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#admitted--;
  }
}
