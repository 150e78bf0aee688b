import { ErrorCode, RpcError } from "../protocol/mod.ts";

/**
 * A server-wide bound that owners (sessions' process tables) take from and give back to, shared
 * fairly. Past the limit, only an owner over its share of it (the limit divided among the owners
 * that hold some) is refused, so one session cannot take the bound from every other; each owner
 * taken past the limit stays within its share, which keeps the total below the limit times
 * 1 + ln(owners holding some). An amount larger than the limit is still taken when nothing is held.
 */
export class SharedBound {
  readonly limit: number;
  readonly #refusal: (amount: number, held: number) => string;
  #held = 0;
  readonly #owners = new Map<object, number>();

  /** `refusal` words the -32001 of a take past the bound, from the amount asked and the total held. */
  constructor(limit: number, refusal: (amount: number, held: number) => string) {
    this.limit = limit;
    this.#refusal = refusal;
  }

  /** The amount held now. */
  get held(): number {
    return this.#held;
  }

  /**
   * Holds `amount` more for `owner`, or throws -32001 (LimitReached) when that would pass the limit
   * while some is held already and `owner` would pass its share.
   */
  take(owner: object, amount: number): void {
    const own = this.#owners.get(owner) ?? 0;
    if (this.#held > 0 && this.#held + amount > this.limit) {
      const holders = this.#owners.size + (own === 0 ? 1 : 0);
      if (own + amount > this.limit / holders) {
        throw new RpcError(ErrorCode.LimitReached, "LimitReached", this.#refusal(amount, this.#held));
      }
    }
    this.#held += amount;
    if (amount > 0) this.#owners.set(owner, own + amount);
  }

  /** `amount` of `owner`'s is given back. */
  give(owner: object, amount: number): void {
    const own = this.#owners.get(owner) ?? 0;
    const given = Math.min(own, amount);
    this.#held = Math.max(0, this.#held - given);
    if (own - given > 0) this.#owners.set(owner, own - given);
    else this.#owners.delete(owner);
  }
}

/** The bound on `process/read` long polls waiting at once (`--max-waiting-polls`). */
export function waitingPollsBound(limit: number): SharedBound {
  return new SharedBound(
    limit,
    (_, held) => `too many long polls waiting: limit is ${limit} (${held} wait now)`,
  );
}
