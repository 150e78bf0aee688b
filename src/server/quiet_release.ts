/**
 * The text after which a memory release waits for the server to fall quiet. The release at the last
 * process's close runs while the client still reads the tail: after 3 × 256 MiB of stdout, two
 * rounds, a Bun server stood at 68 and 104 MiB 200 ms after its client left, and at 70 and 79 with
 * a release once the text had gone.
 */
export const RELEASE_AFTER_TRAFFIC_UNITS = 16 * 1024 * 1024;

/** Silence that counts as quiet: longer than a client's pause between two requests of a burst. */
export const QUIET_MS = 100;

/**
 * Quiet intervals a release waits while a connection still has a reply to send (`sending`), at
 * most: a client that does not read must not hold the release off for good.
 */
export const SENDING_WAITS = 10;

/** Runs `check` once, `QUIET_MS` from now. */
export type QuietTimer = (check: () => void) => void;

const afterQuietMs: QuietTimer = (check) => {
  setTimeout(check, QUIET_MS);
};

/**
 * Asks for a memory release once the connections exchanged enough message text and then nothing
 * for `QUIET_MS`. What went through is garbage once it is sent or served, and a server that falls
 * idle allocates nothing that would collect it: after three echo runs (64 short connections, 4 MiB
 * of text each way, none near a bound of its own) Bun and Deno servers stood near 245 MiB until
 * their sessions expired, against about 140 after one collection. Waiting for quiet keeps the
 * collection out of a burst: released at each connection's close instead, back-to-back echo runs
 * on Deno took 175 ms against 145. Nor does a release run while a reply is still being sent
 * (`sending`): the collection stops the runtime's writes, which run on the same thread, and a 64
 * MiB `fs/readFile` reply, counted when it was handed over, was still leaving 100 ms later.
 */
export class QuietRelease {
  readonly #release: () => void;
  readonly #timer: QuietTimer;
  readonly #thresholdUnits: number;
  #units = 0;
  /** Messages counted so far; a check that finds it moved waits again. */
  #messages = 0;
  #messagesAtCheck = 0;
  #armed = false;
  readonly #sending: () => boolean;
  /** Quiet intervals waited for a reply to leave since the last release. */
  #sendingWaits = 0;

  constructor(
    release: () => void,
    timer: QuietTimer = afterQuietMs,
    thresholdUnits = RELEASE_AFTER_TRAFFIC_UNITS,
    sending: () => boolean = () => false,
  ) {
    this.#release = release;
    this.#timer = timer;
    this.#thresholdUnits = thresholdUnits;
    this.#sending = sending;
  }

  /** Counts one message in or out: its UTF-16 units, or a binary frame's bytes. */
  add(units: number): void {
    this.#messages++;
    if (this.#armed) return;
    this.#units += units;
    if (this.#units < this.#thresholdUnits) return;
    this.#armed = true;
    this.#wait();
  }

  #wait(): void {
    this.#messagesAtCheck = this.#messages;
    this.#timer(() => this.#check());
  }

  #check(): void {
    if (this.#messages !== this.#messagesAtCheck) {
      this.#wait();
      return;
    }
    if (this.#sendingWaits < SENDING_WAITS && this.#sending()) {
      this.#sendingWaits++;
      this.#wait();
      return;
    }
    this.#armed = false;
    this.#units = 0;
    this.#sendingWaits = 0;
    this.#release();
  }
}
