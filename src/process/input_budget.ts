import { ErrorCode, RpcError } from "../protocol/mod.ts";

/** `--max-unread-input-bytes` by default: enough for any write a client sends in one piece. */
export const DEFAULT_MAX_UNREAD_INPUT_BYTES = 67_108_864;

/**
 * The input the server holds for children's stdin across all its processes: accepted by
 * `process/write`, not yet taken by the pipe or terminal (PROTOCOL.md §5.7). A child that reads
 * nothing leaves every write it is sent with the server, and a client may pipeline writes without
 * end; past this bound a write is refused instead of held.
 */
export class InputBudget {
  readonly limit: number;
  #held = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held now. */
  get held(): number {
    return this.#held;
  }

  /**
   * Holds `bytes` more, or throws -32001 (LimitReached) when that would pass the limit while input
   * is held already: a single write larger than the limit is still taken when nothing waits, so the
   * bound is the limit plus one message.
   */
  take(bytes: number): void {
    if (this.#held > 0 && this.#held + bytes > this.limit) {
      throw new RpcError(
        ErrorCode.LimitReached,
        "LimitReached",
        `too much input waiting for processes to read it: a write of ${bytes} bytes would pass the limit ` +
          `of ${this.limit} bytes (${this.#held} bytes wait now)`,
      );
    }
    this.#held += bytes;
  }

  /** `bytes` left the server (written to the child, or dropped). */
  give(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }
}
