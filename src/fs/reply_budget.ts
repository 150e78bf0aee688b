import { ErrorCode, RpcError } from "../protocol/mod.ts";

/** The `--max-reply-bytes` default (PROTOCOL.md §2.8). */
export const DEFAULT_MAX_REPLY_BYTES = 134_217_728;

/** The UTF-16 units `text` takes as a JSON string, quotes and escapes included. */
export function jsonLength(text: string): number {
  return JSON.stringify(text).length;
}

/**
 * How much of the reply limit (PROTOCOL.md §2.8) a result built piece by piece has taken, counted
 * in the UTF-16 units of its JSON text as the reply is measured. A listing stops once it would
 * pass the limit instead of building the whole reply first: its names are whatever the sandbox
 * wrote, and the reply's own check comes only after the whole reply exists.
 */
export class ReplyBudget {
  readonly #method: string;
  readonly #limit: number;
  #used: number;

  /** `used`: what the result takes before its first piece (its empty JSON text). */
  constructor(method: string, options: { limit: number; used: number }) {
    this.#method = method;
    this.#limit = options.limit;
    this.#used = options.used;
  }

  /** Whether `units` more would still keep the result within the limit. */
  fits(units: number): boolean {
    return this.#used + units <= this.#limit;
  }

  /** Counts `units` more; throws the -32001 of `exceeded` once the result passes the limit. */
  spend(units: number): void {
    this.#used += units;
    if (this.#used > this.#limit) throw this.exceeded();
  }

  /** -32001 LimitReached: the result would pass the limit. */
  exceeded(): RpcError {
    return new RpcError(
      ErrorCode.LimitReached,
      "LimitReached",
      `${this.#method} reply is over the reply limit of ${this.#limit} bytes`,
    );
  }
}
