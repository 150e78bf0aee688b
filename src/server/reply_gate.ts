/**
 * Large replies produced at once across the whole server. Each connection produces one at a time
 * (`ReplyRoom`), but connections did not wait for each other: eight clients that each read a
 * 64 MiB file at once took a server from 63 MiB to 2.1 GB (Bun) and from 79 MiB to 2.1 GB (Deno),
 * a file being held several times over while its reply is made (its bytes, their base64, the
 * reply's text), and each further client added as much.
 */
export const LARGE_REPLY_SLOTS = 2;

interface Waiter {
  readonly grant: (release: () => void) => void;
}

/**
 * `LARGE_REPLY_SLOTS` slots, granted in arrival order; a connection holds at most one (its own
 * `ReplyRoom` comes first), so a client that keeps asking waits its turn among the others.
 */
export class ReplyGate {
  readonly #slots: number;
  readonly #waiters: Waiter[] = [];
  #busy = 0;

  constructor(slots: number = LARGE_REPLY_SLOTS) {
    this.#slots = slots;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Resolves with the release once a slot is the request's; rejects with `signal`'s reason when
   * it aborts first (its connection closed, or the request was withdrawn).
   */
  enter(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<() => void>();
    const onAbort = (): void => {
      const index = this.#waiters.indexOf(waiter);
      if (index !== -1) this.#waiters.splice(index, 1);
      reject(signal.reason);
    };
    const waiter: Waiter = {
      grant: (release) => {
        signal.removeEventListener("abort", onAbort);
        resolve(release);
      },
    };
    signal.addEventListener("abort", onAbort, { once: true });
    this.#waiters.push(waiter);
    this.#admit();
    return promise;
  }

  #admit(): void {
    while (this.#busy < this.#slots) {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) return;
      this.#busy++;
      let released = false;
      waiter.grant(() => {
        if (released) return;
        released = true;
        this.#busy--;
        this.#admit();
      });
    }
  }
}
