import type { OutputLog } from "./output_log.ts";

/**
 * Running processes' logs the server keeps in all, as a multiple of `--retained-output-bytes`.
 * Each log keeps its last `--retained-output-bytes` for a resume, and without a bound across them
 * the running processes multiplied it: 256 processes that printed 1 MiB each and kept running took
 * a server from 60 to 560 MiB, and `--max-processes` (4,096) of them would take 6-8 GB.
 */
export const LIVE_LOGS_KEPT = 256;

interface Holder {
  bytes: number;
  /** Each log's retained bytes as last counted, in the order the logs first printed. */
  readonly logs: Map<OutputLog, number>;
}

/**
 * The output of running processes across the server (PROTOCOL.md §5.4). Past the limit, the owner
 * (a session's process table) that holds the most loses the oldest chunks of its largest log, down
 * to a little under the limit: the scans for the largest then run once per `limit / 64` bytes
 * appended past it rather than at every chunk. Readers see the loss as `droppedBytes`. A closed
 * process's log moves to `ClosedOutput`.
 */
export class LiveOutput {
  readonly limit: number;
  readonly #slack: number;
  #total = 0;
  readonly #holders = new Map<object, Holder>();

  constructor(limit: number) {
    this.limit = limit;
    this.#slack = Math.floor(limit / 64);
  }

  /** Bytes kept now. */
  get total(): number {
    return this.#total;
  }

  /** `log` of `owner` was appended to (and may have dropped chunks itself): counts what it holds now. */
  changed(owner: object, log: OutputLog): void {
    let holder = this.#holders.get(owner);
    if (holder === undefined) {
      holder = { bytes: 0, logs: new Map() };
      this.#holders.set(owner, holder);
    }
    this.#recount(holder, log);
    if (this.#total <= this.limit) return;
    const target = this.limit - this.#slack;
    while (this.#total > target) {
      const largest = this.#largestHolder();
      const log = largest === null ? null : largestLog(largest);
      if (largest === null || log === null) break;
      log.dropOldest(Math.min(this.#total - target, largest.logs.get(log) ?? 0));
      this.#recount(largest, log);
    }
  }

  /** `log`'s process has closed: it no longer counts here. */
  forget(owner: object, log: OutputLog): void {
    const holder = this.#holders.get(owner);
    const known = holder?.logs.get(log);
    if (holder === undefined || known === undefined) return;
    holder.logs.delete(log);
    holder.bytes -= known;
    this.#total -= known;
    if (holder.logs.size === 0) this.#holders.delete(owner);
  }

  #recount(holder: Holder, log: OutputLog): void {
    const change = log.retainedBytes - (holder.logs.get(log) ?? 0);
    holder.logs.set(log, log.retainedBytes);
    holder.bytes += change;
    this.#total += change;
  }

  #largestHolder(): Holder | null {
    let largest: Holder | null = null;
    for (const holder of this.#holders.values()) {
      if (holder.bytes > (largest?.bytes ?? 0)) largest = holder;
    }
    return largest;
  }
}

/** The log of `holder` that holds the most, the one that printed first among equals. */
function largestLog(holder: Holder): OutputLog | null {
  let largest: OutputLog | null = null;
  let bytes = 0;
  for (const [log, held] of holder.logs) {
    if (held > bytes) {
      largest = log;
      bytes = held;
    }
  }
  return largest;
}
