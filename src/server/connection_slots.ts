/**
 * One taken slot: `opened` once the runtime has opened its socket, `release` when the socket is
 * gone (or never came); both may be called any number of times.
 */
export interface ConnectionSlot {
  opened(): void;
  release(): void;
}

/**
 * The WebSocket connections the server holds at once (`--max-connections`). The runtimes buffer a
 * message whole before the server sees it, up to `--max-message-bytes` per connection, and a
 * connection without a session was bounded by nothing but the handshake timeout: 24
 * connections, half sending a 64 MiB message and half all of one but its last byte, took a Deno
 * server to 1.9 GB, and faster senders take it further. A slot is taken when an upgrade is accepted and given back
 * when the runtime reports the socket closed, so a socket the server has closed but the runtime
 * still holds (a peer that never answers the Close) keeps counting.
 */
export class ConnectionSlots {
  readonly limit: number;
  readonly #openWaitMs: number;
  #taken = 0;

  /**
   * `openWaitMs`: how long an accepted upgrade holds its slot without the runtime opening the
   * socket; a peer gone before that gets no close callback, and its slot must come back.
   */
  constructor(limit: number, openWaitMs = 10_000) {
    this.limit = limit;
    this.#openWaitMs = openWaitMs;
  }

  /** Slots taken now. */
  get taken(): number {
    return this.#taken;
  }

  /** Takes a slot, or answers null when every slot is taken. */
  take(): ConnectionSlot | null {
    if (this.#taken >= this.limit) return null;
    this.#taken++;
    let held = true;
    let unopened: ReturnType<typeof setTimeout> | null = null;
    const release = (): void => {
      if (unopened !== null) clearTimeout(unopened);
      unopened = null;
      if (!held) return;
      held = false;
      this.#taken--;
    };
    unopened = setTimeout(release, this.#openWaitMs);
    return {
      opened: () => {
        if (unopened !== null) clearTimeout(unopened);
        unopened = null;
      },
      release,
    };
  }
}
