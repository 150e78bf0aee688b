import { createHash } from "node:crypto";
import type { WriteStatus } from "../protocol/mod.ts";

/**
 * The fewest `writeId`s a process remembers (§5.7). A process remembers as many as a connection may
 * have requests in flight when that is more: a client whose connection is lost sends every
 * unanswered write again, and with 1,100 writes in flight under `--max-inflight-requests 2048` the
 * first was forgotten by the time it came again and was written twice.
 */
export const MIN_WRITE_IDS_KEPT = 1024;

/** Ids up to this many UTF-16 units are kept as they are; longer ones by their digest. */
const KEPT_AS_IS = 64;

/**
 * What an id is remembered by. A writeId may be as long as a message (128 MiB), and 1,024 of
 * them are kept per process: a long one is kept as its SHA-256, so the memory stays small
 * whatever a client sends. The prefixes keep the two forms apart.
 */
function keyOf(id: string): string {
  if (id.length <= KEPT_AS_IS) return `=${id}`;
  return `#${createHash("sha256").update(id, "utf16le").digest("base64")}`;
}

/**
 * The `writeId`s of one process (§5.7): the most recent accepted ones (at least `capacity`), and
 * the ones whose write still waits for its answer (back-pressure), with that answer.
 */
export class WriteIdMemory {
  readonly #capacity: number;
  readonly #accepted = new Set<string>();
  readonly #pending = new Map<string, Promise<WriteStatus>>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /**
   * The answer to a write with this id that must write nothing: `accepted` when a write with it
   * was accepted before, the pending write's own answer while that one waits; null when the
   * id is new (or its write was refused), so the bytes are written.
   */
  answerFor(writeId: string): WriteStatus | Promise<WriteStatus> | null {
    const id = keyOf(writeId);
    if (this.#accepted.has(id)) return "accepted";
    return this.#pending.get(id) ?? null;
  }

  /** Holds `answer` as the pending write of `id` until it settles; an accepted id is recorded. */
  track(writeId: string, answer: Promise<WriteStatus>): Promise<WriteStatus> {
    const id = keyOf(writeId);
    const settled = answer.then(
      (status) => {
        this.#pending.delete(id);
        if (status === "accepted") this.#remember(id);
        return status;
      },
      (error: unknown) => {
        this.#pending.delete(id);
        throw error;
      },
    );
    this.#pending.set(id, settled);
    return settled;
  }

  /** Records an accepted id, forgetting the oldest past the capacity. */
  #remember(id: string): void {
    this.#accepted.add(id);
    if (this.#accepted.size > this.#capacity) {
      const oldest = this.#accepted.values().next();
      if (!oldest.done) this.#accepted.delete(oldest.value);
    }
  }
}
