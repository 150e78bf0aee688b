/**
 * `process/list` rows made in turns. A row reads its process's cgroup usage synchronously (two
 * reads of 15–40 µs for a running process, nothing for a closed one whose figures are kept), so a
 * list of a thousand running processes holds the thread for tens of milliseconds; between turns of
 * about `TURN_MS` the event loop serves the other connections. The turn ends with a timer: neither
 * runtime reads sockets between `setImmediate` callbacks or `MessageChannel` messages (a client
 * pinging a server that yielded so every 2 ms for 100 ms got one answer, at the end).
 */

import type { ProcessListEntry } from "../protocol/mod.ts";

/** How long one turn of rows holds the event loop. */
export const TURN_MS = 4;

/** What a row is made from. */
export interface Listed {
  listEntry(): ProcessListEntry;
}

/**
 * The rows of `processes` in order; `stillListed` tells, at each row's turn, whether its process
 * is still in the table (one removed meanwhile is not listed, §3.9).
 */
export async function listRows<T extends Listed>(
  processes: readonly T[],
  stillListed: (process: T) => boolean,
  large?: RowsWait,
): Promise<ProcessListEntry[]> {
  const rows: ProcessListEntry[] = [];
  let turnBegan = performance.now();
  let held = large === undefined ? null : 0;
  for (const process of processes) {
    if (performance.now() - turnBegan >= TURN_MS) {
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      turnBegan = performance.now();
    }
    if (!stillListed(process)) continue;
    const row = process.listEntry();
    rows.push(row);
    if (held === null || large === undefined) continue;
    // A row's JSON text and the comma before it.
    held += JSON.stringify(row).length + 1;
    if (held > large.heldBytes) {
      held = null;
      await large.wait();
      turnBegan = performance.now();
    }
  }
  return rows;
}

/**
 * What a list waits for once its rows' JSON text passes `heldBytes`: a slot among the server's
 * large replies (PROTOCOL.md §5.12); it goes on with the rows it has made.
 */
export interface RowsWait {
  readonly heldBytes: number;
  wait(): Promise<void>;
}
