/** Remembers the most recent accepted `writeId`s of one process (at least `capacity`, §5.7). */
export class WriteIdMemory {
  readonly #capacity: number;
  readonly #ids = new Set<string>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Whether this id was accepted before. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Records an accepted id, forgetting the oldest past the capacity. */
  remember(id: string): void {
    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.values().next();
      if (!oldest.done) this.#ids.delete(oldest.value);
    }
  }
}
