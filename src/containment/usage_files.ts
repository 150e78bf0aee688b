/**
 * The usage files of a cgroup (`cpu.stat`, `memory.peak`, `cgroup.events`), read synchronously.
 * `process/list` reads two per process: through the runtimes' thread pools each read cost
 * 50–450 µs on Deno (a list of 1,100 rows took 0.7–1.0 s), read in place 16–33 µs. cgroupfs is
 * kernel memory, not a mount that can hang, and the list yields between batches of rows.
 */
import { readFileSync } from "node:fs";
import { cgroupGone, parseKeyed } from "./cgroup_files.ts";

/**
 * What a set of reads gave; `complete` is false when a read failed for a reason other than the
 * file being absent (descriptors or memory short), so that the figures may be wrong for now.
 */
export interface Reads {
  complete: boolean;
}

/** A control file's text; null when it is absent (its cgroup is gone, or the kernel lacks it). */
function readTextNow(path: string, reads: Reads): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (!cgroupGone(error)) reads.complete = false;
    return null;
  }
}

/** The `key value` lines of a control file (`cpu.stat`, `cgroup.events`); empty when unreadable. */
export function readKeyedNow(path: string, reads: Reads = { complete: true }): Map<string, number> {
  const text = readTextNow(path, reads);
  return text === null ? new Map() : parseKeyed(text);
}

/** A control file holding one number (`memory.peak`); null when unreadable. */
export function readNumberNow(path: string, reads: Reads = { complete: true }): number | null {
  const text = readTextNow(path, reads);
  if (text === null) return null;
  const value = Number(text.trim());
  return Number.isFinite(value) ? value : null;
}
