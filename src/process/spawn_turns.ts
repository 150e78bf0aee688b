/**
 * Spawns in turns, across the server. A spawn holds the server's thread (Bun's `spawn` is a
 * synchronous fork and exec, 2.5 ms each on a loaded VM), and the spawns of a pipelined burst come
 * back from their earlier steps together, so the runtime ran them one after another without
 * reading a socket in between: 1,000 starts one client pipelined held another client's
 * `process/list` 1.7-3.4 s on Bun, and its own `process/start` until the last of them. Spawns now
 * run for about `SPAWN_TURN_MS` at a time; the turn then ends with a timer, after which the runtime
 * reads its sockets (neither runtime reads them between microtasks or `setImmediate` callbacks).
 * Owners (sessions) that wait take their turns in rotation, one spawn each, so one session's burst
 * does not queue another's start behind all of it.
 */

/**
 * How long one turn of spawns holds the event loop. Long enough that a few dozen starts at once (a
 * client's tool calls, the bench's echo of 64) rarely wait for a timer: with 10 ms turns the echo
 * took 8-13 % longer on Deno, whose timers come late once they nest; short enough that another
 * session waits tens of milliseconds behind a burst, not seconds.
 */
export const SPAWN_TURN_MS = 50;

/** The clock and the timer a turn ends with (replaced in tests). */
export interface TurnClock {
  now(): number;
  later(run: () => void): void;
}

const REAL_CLOCK: TurnClock = {
  now: () => performance.now(),
  later: (run) => void setTimeout(run, 0),
};

/** Rotates the spawns of waiting owners through turns of `SPAWN_TURN_MS`. */
export class SpawnTurns {
  readonly #clock: TurnClock;
  /** When the current turn began; a spawn that enters later waits for the next turn. */
  #turnBegan = Number.NEGATIVE_INFINITY;
  /** When the last spawn went. */
  #lastWent = Number.NEGATIVE_INFINITY;
  /** Waiting spawns by owner, owners in the order they take their next spawn. */
  readonly #waiting = new Map<object, Array<() => void>>();
  #timerSet = false;
  #releasing = false;

  constructor(clock: TurnClock = REAL_CLOCK) {
    this.#clock = clock;
  }

  /** Spawns that wait for a turn. */
  get waiting(): number {
    let count = 0;
    for (const queue of this.#waiting.values()) count += queue.length;
    return count;
  }

  /**
   * Null when `owner` may spawn at once: no one waits, and the current turn lasts or no spawn went
   * for a turn's length (a start on its own then begins a turn rather than wait for a timer: the
   * runtime has had its sockets' turn meanwhile, or spent the time elsewhere). Else a promise that
   * resolves in its place in the rotation. Await it right before the synchronous spawn.
   */
  enter(owner: object): Promise<void> | null {
    const now = this.#clock.now();
    if (this.#waiting.size === 0 && !this.#releasing && !this.#timerSet) {
      if (now - this.#lastWent >= SPAWN_TURN_MS) this.#turnBegan = now;
      if (now - this.#turnBegan < SPAWN_TURN_MS) {
        this.#lastWent = now;
        return null;
      }
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    const queue = this.#waiting.get(owner);
    if (queue === undefined) this.#waiting.set(owner, [resolve]);
    else queue.push(resolve);
    this.#endTurn();
    return promise;
  }

  #endTurn(): void {
    if (this.#timerSet || this.#releasing) return;
    this.#timerSet = true;
    this.#clock.later(() => {
      this.#timerSet = false;
      this.#turnBegan = this.#clock.now();
      this.#releasing = true;
      this.#releaseNext();
    });
  }

  /**
   * Lets the next owner's first waiting spawn go; it runs (up to its first await) before the
   * microtask queued here, which then lets the next one go while the turn lasts.
   */
  #releaseNext(): void {
    const next = this.#waiting.entries().next();
    if (next.done === true) {
      this.#releasing = false;
      return;
    }
    if (this.#clock.now() - this.#turnBegan >= SPAWN_TURN_MS) {
      this.#releasing = false;
      this.#endTurn();
      return;
    }
    const [owner, queue] = next.value;
    const resolve = queue.shift();
    // The owner goes to the back of the rotation, or leaves it with nothing left to spawn.
    this.#waiting.delete(owner);
    if (queue.length > 0) this.#waiting.set(owner, queue);
    this.#lastWent = this.#clock.now();
    resolve?.();
    queueMicrotask(() => queueMicrotask(() => this.#releaseNext()));
  }
}
