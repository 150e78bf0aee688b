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

const utf8 = new TextEncoder();

/**
 * What an id is remembered by. A writeId may be as long as a message (128 MiB), and 1,024 of
 * them are kept per process: a long one is kept as its SHA-256, so the memory stays small
 * whatever a client sends. The prefixes keep the three forms apart. The digest is of UTF-8,
 * which the runtimes encode natively (Node's `utf16le` is script code under Deno: 100–250 ms
 * for a 4 MiB id against 4 ms); UTF-8 tells apart only well-formed strings, so an id holding a
 * lone surrogate is digested as its JSON text, which escapes each one.
 */
function keyOf(id: string): string {
  if (id.length <= KEPT_AS_IS) return `=${id}`;
  if (id.isWellFormed()) return `#${digest(utf8.encode(id))}`;
  return `%${digest(utf8.encode(JSON.stringify(id)))}`;
}

function digest(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64");
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
   * Writes once per id: a write whose id was accepted before answers `accepted`, and one whose id
   * belongs to a write that still waits gets that write's answer; neither calls `write`. A new id
   * (or one whose write was refused) is written, and remembered once its write is accepted.
   */
  writeOnce(writeId: string, write: () => Promise<WriteStatus>): WriteStatus | Promise<WriteStatus> {
    const id = keyOf(writeId);
    if (this.#accepted.has(id)) return "accepted";
    const pending = this.#pending.get(id);
    if (pending !== undefined) return pending;
    const settled = write().then(
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
