/**
 * `FileRanges` over `bun:ffi`: only `lseek`, for a file on a local disk or memory file system (a
 * walk of its extent map, no wait on a peer), and on a thread of its own (`bun_seek_thread.ts`):
 * it waits for the file's inode lock, which any writer of the file holds. Which file
 * system holds the file comes from /proc (its mount's id in `fdinfo`, the mount's type in
 * `mountinfo`), not from an `fstatfs`, which on a hung network mount would hang the server too.
 * `copy_file_range` is not offered: a copy of data on the server's thread would hold it for as long
 * as the kernel throttles the writes. A file without holes is copied whole by `Bun.write` of one
 * descriptor's `Bun.file` to the other's: `strace -f` shows its `copy_file_range` (NULL offsets:
 * each descriptor's own) on a thread of Bun's pool, and neither descriptor's mode changed (its
 * `fs.copyFile` gives the copy the source's mode, set-id bits too, from its own `fstat`) nor
 * closed. Copying 256 MiB took 0.12–0.15 s so, against 0.3–0.7 s read and written through the pool.
 * The runs of a file with holes are read and written through the pool.
 */
import { readFile } from "node:fs/promises";
import { openBunLibc } from "./bun_libc.ts";
import { openSeekThread, type ThreadRuns } from "./bun_seek_thread.ts";
import type { DataRun, FileRanges, RunWalk } from "./file_ranges.ts";

/** `mountinfo`'s names of the file systems `LOCAL_FILE_SYSTEM_TYPES` counts (root_mount_stat.ts). */
const LOCAL_TYPES: ReadonlySet<string> = new Set([
  "ext2",
  "ext3",
  "ext4",
  "xfs",
  "btrfs",
  "f2fs",
  "tmpfs",
  "overlay",
]);
const LSEEK = 8;
const SEEK_SET = 0n;
const ENXIO = -6;
const ENOSYS = -38;

/** Binds `lseek` (x86-64); null where the kernel's own errno cannot be had. */
export async function bunFileRanges(): Promise<FileRanges | null> {
  const runsFrom = await openSeekThread();
  if (runsFrom === null) return null;
  // Only to rewind: `SEEK_SET` takes no inode lock, so it may run on the server's thread.
  const libc = await openBunLibc("x86_64");
  const rewind = (fd: number): number => Number(libc.syscall(LSEEK, BigInt(fd), 0n, SEEK_SET));
  return {
    isLocalFile: async (fd) => LOCAL_TYPES.has(await mountType(fd) ?? ""),
    walkRuns: (fd) => new ThreadRunWalk(fd, runsFrom),
    copyRange: () => Promise.resolve(ENOSYS),
    // Bun closes a descriptor on its pool: ext4's writeback at the close does not hold this thread.
    startWriteback: null,
    async copyWhole(input, output) {
      // `Bun.write` copies from each descriptor's own offset, which the walk's `lseek`s moved.
      for (const fd of [input, output]) {
        const at = rewind(fd);
        if (at < 0) return at;
      }
      return await Bun.write(Bun.file(output), Bun.file(input));
    },
  };
}

/**
 * One copy's walk: the thread finds up to `RUNS_PER_MESSAGE` runs per message (a thread's round
 * trip costs tens of microseconds, and a file of many small runs made hundreds), which are
 * handed out as the copy asks, from the walk's own memory, never another copy's (descriptor
 * numbers are reused).
 */
class ThreadRunWalk implements RunWalk {
  readonly #fd: number;
  readonly #runsFrom: ThreadRuns;
  /** Runs found and not yet passed, as starts and ends in pairs. */
  #runs: number[] = [];
  /** Why the walk stopped (ENXIO: no data left); null while there may be more. */
  #stop: number | null = null;

  constructor(fd: number, runsFrom: ThreadRuns) {
    this.#fd = fd;
    this.#runsFrom = runsFrom;
  }

  async next(offset: number): Promise<DataRun | null | number> {
    for (let fetched = false;;) {
      while (this.#runs.length >= 2 && (this.#runs[1] ?? 0) <= offset) this.#runs.splice(0, 2);
      const [start, end] = this.#runs;
      if (start !== undefined && end !== undefined) return { start: Math.max(start, offset), end };
      if (this.#stop !== null) return this.#stop === ENXIO ? null : this.#stop;
      if (fetched) return ENOSYS;
      const found = await this.#runsFrom(this.#fd, offset);
      const pairs = found.length - (found.length % 2);
      this.#runs = found.slice(0, pairs);
      this.#stop = pairs < found.length ? found[pairs] ?? null : null;
      fetched = true;
    }
  }
}

/** The type of the file system that holds descriptor `fd`, as `mountinfo` names it; null where unknown. */
async function mountType(fd: number): Promise<string | null> {
  const info = await readFile(`/proc/self/fdinfo/${fd}`, "utf8").catch(() => "");
  const id = /^mnt_id:\s*(\d+)$/m.exec(info)?.[1];
  if (id === undefined) return null;
  const mounts = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  for (const line of mounts.split("\n")) {
    // The mount's id comes first; its type follows " - " (paths have their spaces escaped).
    if (line.slice(0, line.indexOf(" ")) !== id) continue;
    return line.slice(line.indexOf(" - ") + 3).split(" ")[0] ?? null;
  }
  return null;
}
