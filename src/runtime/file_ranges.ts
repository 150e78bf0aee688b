/**
 * Where a file's data lies, and a copy of it that the kernel makes, for `fs/copy`: `lseek` with
 * `SEEK_DATA` / `SEEK_HOLE` finds the runs of data between holes, and `copy_file_range` copies a
 * run without its bytes passing through this process (a reflink on btrfs and xfs). A copy that
 * reads and writes every byte writes a 1 GiB sparse file's holes as 1 GiB of zeros; under Deno
 * its writes ran on the server's thread, and the kernel's throttling of dirty pages held that
 * thread, and every client's requests, for up to 0.4 s at a time (docs/performance.md).
 *
 * No call may hold the server's thread on a hung mount, a throttled write or a file's inode lock,
 * which `lseek` waits for while any writer holds it. Deno's FFI runs a `nonblocking` call on a
 * thread of its own, so Deno has all of them; Bun's FFI runs every call on the calling thread, so
 * Bun has only `lseek`, made in a `Worker` thread, and only for a file on a local disk or memory
 * file system (`bun_file_ranges.ts`); it copies a file that is one run of data whole by its own
 * `Bun.write`, whose `copy_file_range` runs on its thread pool, and reads and writes the runs of a
 * file with holes through that pool.
 * Only with the kernel's own errno (the raw call of `raw_syscall.ts`, x86-64).
 */
import { libcArch } from "./libc.ts";
import type { RuntimeName } from "./runtime.ts";

/** The calls; each resolves with the kernel's result, `-errno` on failure. */
export interface FileRanges {
  /**
   * Whether the file lies on a local disk or memory file system (`fstatfs`), whose sizes and
   * holes are its bytes': a file of /proc or /sys reports a size that is not what it reads.
   */
  isLocalFile(fd: number): Promise<boolean>;
  /** A walk of the runs of data of the file open as `fd`, for one copy of it. */
  walkRuns(fd: number): RunWalk;
  /**
   * `copy_file_range(input, &inputOffset, output, &outputOffset, length, 0)`: the bytes copied,
   * 0 at the end of the input; the descriptors' own offsets do not move.
   */
  copyRange(
    input: number,
    inputOffset: number,
    output: number,
    outputOffset: number,
    length: number,
  ): Promise<number>;
  /**
   * All of `input` copied into `output` from offset 0 of each, by one call of the runtime's that
   * runs off the server's thread (a reflink or `copy_file_range` where the kernel offers them);
   * resolves with the bytes copied, and cannot be cancelled once begun. Null where `copyRange`
   * is the way: this copies holes as data, so it is only for a file without them.
   */
  readonly copyWhole: ((input: number, output: number) => Promise<number>) | null;
  /**
   * `sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)` off the server's thread: starts the writeback
   * of the file's dirty pages without waiting for it. ext4 starts that writeback at the `close` of a
   * file that was emptied by a truncation (`auto_da_alloc`), and where the runtime closes on the
   * server's thread (Deno) the close held it for as long as that took (0.5–1.2 s after 512 MiB).
   * Null where the runtime closes off its thread (Bun).
   */
  readonly startWriteback: ((fd: number) => Promise<number>) | null;
}

/** A run of data of a file, from `start` to before `end`. */
export interface DataRun {
  readonly start: number;
  readonly end: number;
}

/**
 * The runs of data of one open file, found by `lseek` with `SEEK_DATA` and `SEEK_HOLE`: a walk may
 * find several runs ahead in one go, so it is made for one copy and asked with growing offsets.
 */
export interface RunWalk {
  /**
   * The first run that ends past `offset` (starting at `offset` where that lies in data); null
   * where no data is left (ENXIO); the kernel's `-errno` where a call failed.
   */
  next(offset: number): Promise<DataRun | null | number>;
}

/** The Deno binding, hidden from `tsc` (which has no Deno types); bundlers fold the name. */
async function importDenoRanges(): Promise<unknown> {
  return await import("./deno_file_ranges" + ".ts");
}

/** The calls for this runtime, or null where they cannot be had. */
export async function openFileRanges(name: RuntimeName, nodeArch: string): Promise<FileRanges | null> {
  if (libcArch(nodeArch) !== "x86_64") return null;
  try {
    if (name === "bun") {
      const { bunFileRanges } = await import("./bun_file_ranges.ts");
      return await bunFileRanges();
    }
    const adapter = await importDenoRanges();
    if (typeof adapter === "object" && adapter !== null && "denoFileRanges" in adapter) {
      const bind = adapter.denoFileRanges;
      // deno_file_ranges.ts declares it `(): FileRanges | null`; `deno check` verifies it there.
      if (typeof bind === "function") return (bind as () => FileRanges | null)();
    }
    return null;
  } catch {
    // No FFI permission (a Deno run without --allow-ffi, as the sandbox worker) or no libc.so.6.
    return null;
  }
}
