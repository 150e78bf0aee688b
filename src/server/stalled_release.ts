/**
 * How long a connection's output stays paused on its backlog before the pause asks for a memory
 * release. A client that reads brings the backlog from the high mark under the low one in tens of
 * milliseconds, at 50 MB/s in 140 ms.
 */
export const STALLED_RELEASE_MS = 1_000;

/** Starts `run` after `STALLED_RELEASE_MS`; the answer stops it. */
export interface StallTimer {
  start(run: () => void): () => void;
}

const realTimer: StallTimer = {
  start: (run) => {
    const timer = setTimeout(run, STALLED_RELEASE_MS);
    return () => clearTimeout(timer);
  },
};

/**
 * Asks for a memory release when a connection's output has stayed paused for `STALLED_RELEASE_MS`:
 * what was sent before the client stopped reading is garbage, and a server that waits for it
 * allocates nothing that would start a collection (a Bun server paused on a 64 MiB flood stood 89
 * MiB above its start for 10 s about once in twenty runs). A pause that a reading client ends
 * sooner costs no release: a release at every pause ran a collection about once a second through
 * a stream to a client slower than the child, two compacting ones on Deno, 50–250 ms each.
 */
export class StalledRelease {
  readonly #release: () => void;
  readonly #timer: StallTimer;
  #stop: (() => void) | null = null;

  constructor(release: () => void, timer: StallTimer = realTimer) {
    this.#release = release;
    this.#timer = timer;
  }

  /** The output paused on the backlog; a pause while one wait runs shares it. */
  paused(): void {
    if (this.#stop !== null) return;
    this.#stop = this.#timer.start(() => {
      this.#stop = null;
      this.#release();
    });
  }

  /** The backlog fell below the low mark: the client reads. */
  resumed(): void {
    this.cancel();
  }

  /** Drops the wait (the connection ended). */
  cancel(): void {
    const stop = this.#stop;
    this.#stop = null;
    stop?.();
  }
}
