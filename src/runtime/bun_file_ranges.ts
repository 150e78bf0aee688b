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
import { openSeekThread } from "./bun_seek_thread.ts";
import type { FileRanges } from "./file_ranges.ts";

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
const SEEK_SET = 0;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = -6;
const ENOSYS = -38;

/** Binds `lseek` (x86-64); null where the kernel's own errno cannot be had. */
export async function bunFileRanges(): Promise<FileRanges | null> {
  const seek = await openSeekThread();
  if (seek === null) return null;
  return {
    isLocalFile: async (fd) => LOCAL_TYPES.has(await mountType(fd) ?? ""),
    async nextData(fd, offset) {
      const result = await seek(fd, offset, SEEK_DATA);
      return result === ENXIO ? null : result;
    },
    nextHole: (fd, offset) => seek(fd, offset, SEEK_HOLE),
    copyRange: () => Promise.resolve(ENOSYS),
    // Bun closes a descriptor on its pool: ext4's writeback at the close does not hold this thread.
    startWriteback: null,
    async copyWhole(input, output) {
      // `Bun.write` copies from each descriptor's own offset, which the walk's `lseek`s moved.
      for (const fd of [input, output]) {
        const at = await seek(fd, 0, SEEK_SET);
        if (at < 0) return at;
      }
      return await Bun.write(Bun.file(output), Bun.file(input));
    },
  };
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
