/**
 * The kernel's OOM kills in v1 memory cgroups, seen while their processes run. A v1 memory cgroup
 * kills only the largest process of the tree when it passes its limit (v2's `memory.oom.group`
 * kills them all), so a shell whose allocating child was killed ran on, exited 0 and left its
 * background jobs running: the limit ended one process, not the tree (protocol.md §11.11). v1
 * counts the kills of each cgroup alone (`oom_kill` of `memory.oom_control`, not its
 * descendants'), and tells of them only through an eventfd, so each watched cgroup is read in
 * turn: at most `READS_PER_TICK` reads a tick across the server. A read took 19-55 µs on Bun and
 * 53-134 µs on Deno (load 11 on the shared two-core VM), so the watch costs at most 1-2 % of a CPU.
 */
import { readKeyedNow } from "./usage_files.ts";

/** How often the watched cgroups are read. */
const TICK_MS = 100;
/**
 * Reads a tick: up to this many cgroups are each read every tick; past it, a kill is seen within
 * `TICK_MS` × watched / `READS_PER_TICK` (2 s with 320 processes under a memory limit).
 */
const READS_PER_TICK = 16;

interface Entry {
  readonly path: string;
  readonly onKill: () => void;
  /** Its place in the list; -1 once it is no longer watched. */
  index: number;
}

/** Watches `memory.oom_control` files for a first OOM kill. */
export class OomWatch {
  readonly #entries: Entry[] = [];
  #next = 0;
  #timer: ReturnType<typeof setInterval> | null = null;

  /**
   * Calls `onKill` once, at the first OOM kill `memoryDir` records; the returned function stops
   * watching.
   */
  watch(memoryDir: string, onKill: () => void): () => void {
    const entry: Entry = { path: `${memoryDir}/memory.oom_control`, onKill, index: this.#entries.length };
    this.#entries.push(entry);
    this.#timer ??= setInterval(() => this.#tick(), TICK_MS);
    return () => this.#remove(entry);
  }

  /** Cgroups watched now. */
  get size(): number {
    return this.#entries.length;
  }

  #tick(): void {
    const reads = Math.min(READS_PER_TICK, this.#entries.length);
    for (let read = 0; read < reads && this.#entries.length > 0; read++) {
      if (this.#next >= this.#entries.length) this.#next = 0;
      const entry = this.#entries[this.#next] as Entry;
      this.#next++;
      if ((readKeyedNow(entry.path).get("oom_kill") ?? 0) === 0) continue;
      // The last entry takes its place, and is read next.
      this.#next = entry.index;
      this.#remove(entry);
      entry.onKill();
    }
  }

  #remove(entry: Entry): void {
    if (entry.index < 0) return;
    const last = this.#entries.pop() as Entry;
    if (last !== entry) {
      this.#entries[entry.index] = last;
      last.index = entry.index;
    }
    entry.index = -1;
    if (this.#entries.length === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}
