import { ErrorCode, RpcError } from "../protocol/mod.ts";

/** `--max-unread-input-bytes` by default: enough for any write a client sends in one piece. */
export const DEFAULT_MAX_UNREAD_INPUT_BYTES = 67_108_864;

/** What one owner (a session's processes) holds of the budget, taken and given back by its stdin queues. */
export interface InputAccount {
  /** Holds `bytes` more for this owner, or throws -32001 (LimitReached). */
  take(bytes: number): void;
  /** `bytes` of this owner's left the server (written to the child, or dropped). */
  give(bytes: number): void;
}

/**
 * The input the server holds for children's stdin across all its processes: accepted by
 * `process/write`, not yet taken by the pipe or terminal (PROTOCOL.md §5.7). A child that reads
 * nothing leaves every write it is sent with the server, and a client may pipeline writes without
 * end; past this bound a write is refused instead of held.
 *
 * Past the limit, only an owner over its share of it (the limit divided among the owners that hold
 * input) is refused: otherwise one session that writes to a child that never reads took the whole
 * bound, and every other session's writes, one byte as much as a megabyte, were refused for as long
 * as that child lived. Each owner taken past the limit stays within its share, so the total stays
 * below the limit times 1 + ln(owners holding input).
 */
export class InputBudget {
  readonly limit: number;
  #held = 0;
  readonly #owners = new Map<object, number>();

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held now. */
  get held(): number {
    return this.#held;
  }

  /** The account of `owner`. */
  account(owner: object): InputAccount {
    return {
      take: (bytes) => this.take(owner, bytes),
      give: (bytes) => this.give(owner, bytes),
    };
  }

  /**
   * Holds `bytes` more for `owner`, or throws -32001 (LimitReached) when that would pass the limit
   * while input is held already and `owner` would pass its share. A single write larger than the
   * limit is still taken when nothing waits.
   */
  take(owner: object, bytes: number): void {
    const own = this.#owners.get(owner) ?? 0;
    if (this.#held > 0 && this.#held + bytes > this.limit) {
      const holders = this.#owners.size + (own === 0 ? 1 : 0);
      if (own + bytes > this.limit / holders) {
        throw new RpcError(
          ErrorCode.LimitReached,
          "LimitReached",
          `too much input waiting for processes to read it: a write of ${bytes} bytes would pass the limit ` +
            `of ${this.limit} bytes (${this.#held} bytes wait now)`,
        );
      }
    }
    this.#held += bytes;
    if (bytes > 0) this.#owners.set(owner, own + bytes);
  }

  /** `bytes` of `owner`'s left the server (written to the child, or dropped). */
  give(owner: object, bytes: number): void {
    const own = this.#owners.get(owner) ?? 0;
    const given = Math.min(own, bytes);
    this.#held = Math.max(0, this.#held - given);
    if (own - given > 0) this.#owners.set(owner, own - given);
    else this.#owners.delete(owner);
  }
}
