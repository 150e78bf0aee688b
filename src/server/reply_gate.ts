import { joinLine, type Waiter } from "./waiting_line.ts";

/**
 * Large replies produced at once across the whole server. Each connection produces one at a time
 * (`ReplyRoom`), but connections did not wait for each other: eight clients that each read a
 * 64 MiB file at once took a server from 63 MiB to 2.1 GB (Bun) and from 79 MiB to 2.1 GB (Deno),
 * a file being held several times over while its reply is made (its bytes, their base64, the
 * reply's text), and each further client added as much.
 */
export const LARGE_REPLY_SLOTS = 2;

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
    const granted = joinLine(this.#waiters, signal);
    this.#admit();
    return granted;
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
