import { BACKLOG_LOW_BYTES } from "./session.ts";
import { joinLine, type Waiter } from "./waiting_line.ts";

/**
 * Room for one large reply on a connection (`fs/readFile`, `process/read`, directory listings):
 * a request produces its reply only while no other large reply of the connection is being
 * produced and the connection's unsent data is below the low mark of §5.12. A client that stops
 * reading then holds one reply's worth of memory, not one per pipelined request. Waiting
 * requests keep their order.
 */
export class ReplyRoom {
  readonly #backlog: () => number;
  readonly #waiters: Waiter[] = [];
  #busy = false;
  #closedReason: Error | null = null;

  constructor(backlog: () => number) {
    this.#backlog = backlog;
  }

  /** Requests waiting for room. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Resolves with the release once the room is this request's; rejects with `signal`'s reason
   * when it aborts first, and with `reason` of `close` once the connection is gone: nothing it
   * produced would be sent, so it produces nothing.
   */
  enter(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#closedReason !== null) return Promise.reject(this.#closedReason);
    const granted = joinLine(this.#waiters, signal);
    this.#admit();
    return granted;
  }

  /** The connection's unsent data shrank: the next request may fit. */
  drained(): void {
    this.#admit();
  }

  /** The connection is gone: every waiting request is refused with `reason`. */
  close(reason: Error): void {
    this.#closedReason = reason;
    for (const waiter of this.#waiters.splice(0)) waiter.refuse(reason);
  }

  #admit(): void {
    while (this.#waiters.length > 0) {
      if (this.#busy || this.#backlog() >= BACKLOG_LOW_BYTES) return;
      const waiter = this.#waiters.shift();
      if (waiter === undefined) return;
      this.#busy = true;
      let released = false;
      waiter.grant(() => {
        if (released) return;
        released = true;
        this.#busy = false;
        this.#admit();
      });
    }
  }
}
