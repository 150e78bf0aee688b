import type { LargeWait } from "./large_wait.ts";

/** A read that waits to go on: what lets it, and the read itself. */
interface HeldRead {
  readonly go: PromiseWithResolvers<void>;
  readonly reading: Promise<Uint8Array>;
}

/** Why a held read that is dropped ends. */
const DROPPED = new Error("held read dropped");

/**
 * The worker's held `fs/readFile`s, by scope and id: each has read up to its bound and waits, its
 * descriptor open, until the server has a slot for the rest (`resume`) or gives up (`drop`). A
 * connection has one large reply at a time, so a scope holds one such read at most.
 */
export class HeldReads {
  readonly #reads = new Map<string, Map<number, HeldRead>>();

  /**
   * Runs `read` with a wait after `bytes`: its bytes if it ends before, else null once it waits,
   * held under `id` of `scope`.
   */
  async start(
    scope: string,
    id: number,
    bytes: number,
    read: (large: LargeWait) => Promise<Uint8Array>,
  ): Promise<Uint8Array | null> {
    const go = Promise.withResolvers<void>();
    const waiting = Promise.withResolvers<null>();
    const reading = read({
      heldBytes: bytes,
      wait: () => {
        waiting.resolve(null);
        return go.promise;
      },
    });
    // A read dropped while it waits ends with `DROPPED`, which nobody awaits any more.
    reading.catch(() => {});
    const first = await Promise.race([reading, waiting.promise]);
    if (first !== null) return first;
    let reads = this.#reads.get(scope);
    if (reads === undefined) {
      reads = new Map();
      this.#reads.set(scope, reads);
    }
    reads.set(id, { go, reading });
    return null;
  }

  /** Lets the held read `id` of `scope` go on, and resolves with all its bytes. */
  async resume(scope: string, id: number): Promise<Uint8Array> {
    const held = this.#take(scope, id);
    if (held === undefined) throw new Error(`no held read ${id}`);
    held.go.resolve();
    return await held.reading;
  }

  /** Ends the held read `id` of `scope` unread, its descriptor closed. */
  async drop(scope: string, id: number): Promise<void> {
    const held = this.#take(scope, id);
    held?.go.reject(DROPPED);
    await held?.reading.catch(() => {});
  }

  /** Ends every held read (the server has stopped asking). */
  async dropAll(): Promise<void> {
    await Promise.all([...this.#reads.keys()].map((scope) => this.dropScope(scope)));
  }

  /** Ends every held read of `scope` (its connection ended). */
  async dropScope(scope: string): Promise<void> {
    const reads = this.#reads.get(scope);
    this.#reads.delete(scope);
    for (const held of reads?.values() ?? []) held.go.reject(DROPPED);
    await Promise.all([...reads?.values() ?? []].map((held) => held.reading.catch(() => {})));
  }

  #take(scope: string, id: number): HeldRead | undefined {
    const reads = this.#reads.get(scope);
    const held = reads?.get(id);
    reads?.delete(id);
    if (reads?.size === 0) this.#reads.delete(scope);
    return held;
  }
}
