import type { OutputLog } from "./output_log.ts";

/**
 * Closed processes' logs the server keeps in all, as a multiple of `--retained-output-bytes`: a
 * process stays readable for `--process-retention` after it closes, and without a bound a client
 * that runs short commands with much output kept every one of their logs (868 commands of 1 MiB
 * in 8 s: 1.4 GB).
 */
export const CLOSED_LOGS_KEPT = 256;

interface Holder {
  bytes: number;
  /** In close order: the oldest first. */
  readonly logs: Set<OutputLog>;
}

/**
 * The output of closed processes across the server (PROTOCOL.md §3.9, §5.4). Past the limit, the
 * owner (a session's process table) that holds the most loses the chunks of its oldest closed
 * process, which stays readable for its state; readers see the loss as `droppedBytes`.
 */
export class ClosedOutput {
  readonly limit: number;
  #total = 0;
  readonly #holders = new Map<object, Holder>();

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes kept now. */
  get total(): number {
    return this.#total;
  }

  /** `log`'s process has closed: its chunks count from now on. */
  keep(owner: object, log: OutputLog): void {
    let holder = this.#holders.get(owner);
    if (holder === undefined) {
      holder = { bytes: 0, logs: new Set() };
      this.#holders.set(owner, holder);
    }
    holder.logs.add(log);
    holder.bytes += log.retainedBytes;
    this.#total += log.retainedBytes;
    while (this.#total > this.limit) this.#dropOldestOfLargest();
  }

  /** `log`'s process is removed. */
  forget(owner: object, log: OutputLog): void {
    const holder = this.#holders.get(owner);
    if (holder === undefined || !holder.logs.delete(log)) return;
    holder.bytes -= log.retainedBytes;
    this.#total -= log.retainedBytes;
    if (holder.logs.size === 0) this.#holders.delete(owner);
  }

  /** Every closed process of `owner` is gone (its session ended). */
  forgetAll(owner: object): void {
    const holder = this.#holders.get(owner);
    if (holder === undefined) return;
    this.#total -= holder.bytes;
    this.#holders.delete(owner);
  }

  #dropOldestOfLargest(): void {
    let largest: Holder | null = null;
    let largestOwner: object | null = null;
    for (const [owner, holder] of this.#holders) {
      if (largest === null || holder.bytes > largest.bytes) {
        largest = holder;
        largestOwner = owner;
      }
    }
    const oldest = largest?.logs.values().next();
    if (largest === null || largestOwner === null || oldest === undefined || oldest.done) {
      this.#total = 0;
      return;
    }
    const log = oldest.value;
    largest.logs.delete(log);
    const dropped = log.dropAll();
    largest.bytes -= dropped;
    this.#total -= dropped;
    if (largest.logs.size === 0) this.#holders.delete(largestOwner);
  }
}
