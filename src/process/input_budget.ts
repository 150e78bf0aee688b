import { SharedBound } from "./shared_bound.ts";

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
 * Past the limit, only an owner over its share of it is refused (`SharedBound`): otherwise one
 * session that writes to a child that never reads took the whole bound, and every other session's
 * writes, one byte as much as a megabyte, were refused for as long as that child lived.
 */
export class InputBudget extends SharedBound {
  constructor(limit: number) {
    super(
      limit,
      (bytes, held) =>
        `too much input waiting for processes to read it: a write of ${bytes} bytes would pass the limit ` +
        `of ${limit} bytes (${held} bytes wait now)`,
    );
  }

  /** The account of `owner`. */
  account(owner: object): InputAccount {
    return {
      take: (bytes) => this.take(owner, bytes),
      give: (bytes) => this.give(owner, bytes),
    };
  }
}
