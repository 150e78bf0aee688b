import { decodeBase64 } from "../protocol/mod.ts";
import type { ProcessReadResult, ReadChunk } from "../protocol/mod.ts";
import { ClientError } from "./client_error.ts";
import type { ProcessNotification } from "./process_notification.ts";
import type { ExitedEvent, ProcessEvent } from "./process_event.ts";

/** Unread output a stream holds before it stops taking notifications and re-reads the log later. */
const HIGH_WATER_BYTES = 64 * 1024 * 1024;
/**
 * What one held output event costs besides its bytes (its object and its array measured some 115
 * bytes on Bun): counted towards the mark, so that a process writing a byte at a time cannot make
 * a handle hold ~150 times the mark.
 */
const EVENT_COST_BYTES = 128;
/** Bytes asked for per `process/read` while catching up. */
const FILL_BYTES = 4 * 1024 * 1024;
/**
 * How many times in a row a catch-up whose read was lost with its connection too often
 * (`connectionClosed`) starts again. The session outlives such losses, and so does the process: a
 * flapping path must not end its events for good, but a server that ends the connection at every
 * read of this process must not be asked for ever either.
 */
const LOST_READ_ROUNDS = 3;

/** Where a stream fetches what it missed, and whom it tells that the process closed. */
export interface ProcessEventStreamOptions {
  /** One `process/read` from `afterSeq`, without waiting. */
  readonly readLog: (afterSeq: number, maxBytes: number) => Promise<ProcessReadResult>;
  /** Called once, when `closed` is taken. */
  readonly onClosed: () => void;
}

type SeqEvent = Exclude<ProcessEvent, { type: "dropped" }>;

/**
 * One process's events in seq order, each exactly once (PROTOCOL.md §5.4): notifications are
 * taken as they come; a gap (a lost transport, or notifications skipped while the reader was far
 * behind) is filled from the server's log with `process/read`, and duplicates are dropped by seq.
 * Unread output is bounded: past `HIGH_WATER_BYTES` notifications are skipped and read back
 * from the log once the reader catches up. Yields until `closed`; a single reader.
 */
export class ProcessEventStream implements AsyncIterable<ProcessEvent> {
  readonly #options: ProcessEventStreamOptions;
  /** The highest seq taken; every seq up to it has been taken. */
  #lastSeq = 0;
  /** Events that arrived ahead of a gap, by seq. */
  readonly #early = new Map<number, SeqEvent>();
  /** Output held in `#early`, as `costOf` counts it; it counts towards the high-water mark too. */
  #earlyBytes = 0;
  /** Queued events from `#head` on; read slots are emptied so their bytes can be collected. */
  #queue: Array<ProcessEvent | undefined> = [];
  #head = 0;
  #queuedBytes = 0;
  #exitedTaken = false;
  #closedTaken = false;
  /** Notifications were skipped (the queue was full, or the transport was lost). */
  #behind = false;
  #filling = false;
  /** The log can be read: the process's start has been answered. */
  #readable = false;
  #failure: { readonly error: unknown } | null = null;
  /** Catch-ups in a row whose read failed with `connectionClosed`. */
  #lostRounds = 0;
  #ended = false;
  #iterating = false;
  #wake: PromiseWithResolvers<void> | null = null;

  constructor(options: ProcessEventStreamOptions) {
    this.#options = options;
  }

  /** Whether `closed` has been taken: the process has nothing more to say. */
  get closed(): boolean {
    return this.#closedTaken;
  }

  /** Takes one notification of this process. */
  notification(notification: ProcessNotification): void {
    this.#offer(eventOf(notification));
  }

  /** The process's start has been answered, so its log exists and gaps can be filled from it. */
  started(): void {
    this.#readable = true;
    this.#fill();
  }

  /** Notifications may have been missed (the session was resumed): catch up from the log. */
  resync(): void {
    this.#behind = true;
    this.#fill();
  }

  /** Ends the stream with `error` once what is queued has been read. */
  fail(error: unknown): void {
    this.#failure ??= { error };
    this.#signal();
  }

  /** Ends the stream after what is queued (the handle was disposed). */
  end(): void {
    this.#ended = true;
    this.#signal();
  }

  /** The events, in seq order, ending with `closed`. One reader only. */
  [Symbol.asyncIterator](): AsyncIterator<ProcessEvent> {
    if (this.#iterating) throw new TypeError("a process's events can be iterated once");
    this.#iterating = true;
    return this.#events();
  }

  async *#events(): AsyncGenerator<ProcessEvent> {
    for (;;) {
      const event = this.#take();
      if (event !== undefined) {
        yield event;
        if (event.type === "closed") return;
        continue;
      }
      if (this.#failure !== null) throw this.#failure.error;
      if (this.#ended) return;
      this.#wake = Promise.withResolvers<void>();
      await this.#wake.promise;
    }
  }

  #take(): ProcessEvent | undefined {
    if (this.#head === this.#queue.length) return undefined;
    const event = this.#queue[this.#head];
    this.#queue[this.#head] = undefined;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (event?.type === "output") {
      this.#queuedBytes -= costOf(event);
      if ((this.#behind || this.#early.size > 0) && !this.#queueFull()) this.#fill();
    }
    return event;
  }

  /** The reader is far behind: reading more from the log waits until it catches up. */
  #queueFull(): boolean {
    return this.#queuedBytes >= HIGH_WATER_BYTES;
  }

  #offer(event: SeqEvent): void {
    if (this.#closedTaken || event.seq <= this.#lastSeq) return;
    // Past the mark, held events (queued or early) make room only as the reader reads: skip this
    // one and read it back from the log later.
    if (this.#queuedBytes + this.#earlyBytes >= HIGH_WATER_BYTES) {
      this.#behind = true;
      return;
    }
    if (event.seq === this.#lastSeq + 1) {
      this.#push(event);
      this.#takeEarly();
      return;
    }
    if (!this.#early.has(event.seq)) this.#earlyBytes += costOf(event);
    this.#early.set(event.seq, event);
    this.#fill();
  }

  #push(event: ProcessEvent): void {
    if (event.type !== "dropped") this.#lastSeq = event.seq;
    if (event.type === "output") this.#queuedBytes += costOf(event);
    else if (event.type === "exited") this.#exitedTaken = true;
    this.#queue.push(event);
    this.#signal();
    if (event.type === "closed") {
      this.#closedTaken = true;
      this.#options.onClosed();
    }
  }

  /** Moves early events that are now next in line into the queue. */
  #takeEarly(): void {
    for (const [seq, event] of [...this.#early]) if (seq <= this.#lastSeq) this.#dropEarly(seq, event);
    for (
      let next = this.#early.get(this.#lastSeq + 1);
      next !== undefined;
      next = this.#early.get(this.#lastSeq + 1)
    ) {
      this.#dropEarly(next.seq, next);
      this.#push(next);
    }
  }

  #dropEarly(seq: number, event: SeqEvent): void {
    this.#early.delete(seq);
    this.#earlyBytes -= costOf(event);
  }

  #fill(): void {
    if (!this.#readable || this.#filling || this.#closedTaken || this.#failure !== null) return;
    if (!this.#behind && this.#early.size === 0) return;
    this.#filling = true;
    void this.#catchUp().then(() => {
      this.#filling = false;
      // Something may have fallen behind again while the last read was on its way.
      if ((this.#behind || this.#early.size > 0) && !this.#queueFull()) this.#fill();
    }, (error: unknown) => {
      this.#filling = false;
      if (
        error instanceof ClientError && error.reason === "connectionClosed" &&
        this.#lostRounds < LOST_READ_ROUNDS
      ) {
        // The read waits for the reconnection under way, and is sent on the resumed session.
        this.#lostRounds++;
        this.#behind = true;
        this.#fill();
        return;
      }
      this.fail(error);
    });
  }

  /** Reads the log from the last taken seq until the server's head is reached. */
  async #catchUp(): Promise<void> {
    while (!this.#closedTaken && !this.#ended && (this.#behind || this.#early.size > 0)) {
      if (this.#queueFull()) return;
      const afterSeq = this.#lastSeq;
      const result = await this.#options.readLog(afterSeq, this.#readBytes());
      this.#lostRounds = 0;
      const atHead = this.#absorb(result);
      if (!atHead && this.#lastSeq === afterSeq) {
        // Chunks, none of them after afterSeq (§5.6): asking again would get the same answer, as
        // fast as the server answers, for ever.
        throw new ClientError("badReply", `process/read after seq ${afterSeq} answered no chunk after it`);
      }
      this.#takeEarly();
      if (atHead) {
        this.#behind = false;
        // What is still early lies beyond a hole the log no longer holds.
        if (this.#early.size > 0 && !this.#closedTaken) {
          this.#skipTo(Math.min(...this.#early.keys()), result.droppedBytes);
          this.#takeEarly();
        }
      }
    }
  }

  /**
   * How many bytes one read of the log asks for: no more than `FILL_BYTES`, and no more than the
   * room left under the mark holds if every chunk were one byte. The log counts a chunk's bytes
   * only, and a read of megabytes of one-byte chunks cost over a hundred times as much here.
   */
  #readBytes(): number {
    const room = HIGH_WATER_BYTES - this.#queuedBytes - this.#earlyBytes;
    return Math.max(1, Math.min(FILL_BYTES, Math.floor(room / (1 + EVENT_COST_BYTES))));
  }

  /**
   * Takes the events of one read. Seqs missing between chunks (or, at the head, before `nextSeq`)
   * are the exit and the close, which `process/read` reports as flags, or chunks the log dropped.
   * Returns whether the read reached the server's head (it returned no chunk).
   */
  #absorb(result: ProcessReadResult): boolean {
    for (const chunk of result.chunks) {
      if (chunk.seq <= this.#lastSeq) continue;
      const missing = chunk.seq - this.#lastSeq - 1;
      if (missing > 0) this.#placeMissing(missing, result, false);
      this.#push(outputEvent(chunk));
    }
    if (result.chunks.length > 0) return false;
    const missing = result.nextSeq - 1 - this.#lastSeq;
    if (missing > 0) this.#placeMissing(missing, result, true);
    return true;
  }

  /**
   * Fills `missing` seqs after the last taken one. Dropped chunks sit at the front of the log, so
   * they come first; between chunks the exit is placed exactly only when nothing was dropped.
   */
  #placeMissing(missing: number, result: ProcessReadResult, atHead: boolean): void {
    const exits = result.exited && !this.#exitedTaken && (atHead || result.droppedBytes === 0) ? 1 : 0;
    const closes = atHead && result.closed ? 1 : 0;
    const lost = missing - exits - closes;
    if (lost > 0) this.#skipTo(this.#lastSeq + lost + 1, result.droppedBytes);
    if (exits === 1) this.#push(exitedEvent(this.#lastSeq + 1, result));
    if (closes === 1) this.#push({ type: "closed", seq: this.#lastSeq + 1 });
  }

  /** Reports a hole and continues before `seq`. */
  #skipTo(seq: number, droppedBytes: number): void {
    this.#queue.push({ type: "dropped", droppedBytes });
    this.#lastSeq = seq - 1;
    this.#signal();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.resolve();
  }
}

/** What a held event counts towards the mark: an output's bytes and its cost as an object. */
function costOf(event: ProcessEvent): number {
  return event.type === "output" ? event.data.byteLength + EVENT_COST_BYTES : 0;
}

function eventOf(notification: ProcessNotification): SeqEvent {
  switch (notification.method) {
    case "process/output": {
      const { seq, stream } = notification.params;
      return { type: "output", seq, stream, data: notification.data };
    }
    case "process/exited": {
      const { seq, exitCode, sandboxDenied, timedOut } = notification.params;
      return { type: "exited", seq, exitCode, sandboxDenied, timedOut: timedOut === true };
    }
    case "process/closed":
      return { type: "closed", seq: notification.params.seq };
    default:
      return assertNever(notification);
  }
}

function outputEvent(chunk: ReadChunk): SeqEvent {
  return { type: "output", seq: chunk.seq, stream: chunk.stream, data: decodeBase64(chunk.chunk) };
}

function exitedEvent(seq: number, result: ProcessReadResult): ExitedEvent {
  return {
    type: "exited",
    seq,
    exitCode: result.exitCode ?? 0,
    sandboxDenied: result.sandboxDenied,
    timedOut: result.timedOut === true,
  };
}

function assertNever(value: never): never {
  throw new TypeError(`unexpected value ${String(value)}`);
}
