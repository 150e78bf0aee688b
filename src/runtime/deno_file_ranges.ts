/**
 * `FileRanges` over `Deno.UnsafeFnPointer` with `nonblocking`: the raw system call of
 * `raw_syscall.ts` on a thread of Deno's own, which answers the kernel's `-errno` (libc's errno
 * would be that thread's, never seen here). x86-64 numbering.
 */
import type { FileRanges } from "./file_ranges.ts";
import { LOCAL_FILE_SYSTEM_TYPES } from "./root_mount_stat.ts";
import { hexBytes, mapCode, RAW_SYSCALL_X86_64, syscallArgs } from "./raw_syscall.ts";

const ARGS = ["i64", "i64", "i64", "i64", "i64", "i64", "i64"] as const;
const RAW = { parameters: ARGS, result: "i64", nonblocking: true } as const;
const NR = { lseek: 8, fstatfs: 138, syncFileRange: 277, copyFileRange: 326 } as const;
const SYNC_FILE_RANGE_WRITE = 2n;
const SEEK_DATA = 3n;
const SEEK_HOLE = 4n;
/** `struct statfs` on x86-64; `f_type` is its first member, a long. */
const STATFS_BYTES = 120;
const ENXIO = -6;

/** Binds the calls; null where the raw call cannot be mapped. Throws without FFI permission. */
export function denoFileRanges(): FileRanges | null {
  const { symbols } = Deno.dlopen("libc.so.6", { syscall: { parameters: ARGS, result: "i64" } });
  const addressOf = (buffer: Uint8Array | BigInt64Array): bigint => {
    const pointer = Deno.UnsafePointer.of(buffer);
    return pointer === null ? 0n : BigInt(Deno.UnsafePointer.value(pointer));
  };
  const code = mapCode(hexBytes(RAW_SYSCALL_X86_64), {
    syscall: (nr, ...args) => BigInt(symbols.syscall(...syscallArgs(nr, args))),
    addressOf,
  });
  const pointer = code === null ? null : Deno.UnsafePointer.create<Omit<typeof RAW, "nonblocking">>(code);
  if (pointer === null) return null;
  const raw = new Deno.UnsafeFnPointer(pointer, RAW);
  const pending = new Set<BigInt64Array>();
  const call = async (nr: number, ...args: bigint[]): Promise<number> =>
    Number(await raw.call(...syscallArgs(nr, args)));
  return {
    // `copyRange` copies a run in pieces, so a copy is cancelled between them.
    copyWhole: null,
    startWriteback: (fd) => call(NR.syncFileRange, BigInt(fd), 0n, 0n, SYNC_FILE_RANGE_WRITE),
    async isLocalFile(fd) {
      const out = new Uint8Array(STATFS_BYTES);
      const result = await call(NR.fstatfs, BigInt(fd), addressOf(out));
      // `out` is read once the call is back, so it lives while the kernel writes it.
      return result === 0 &&
        LOCAL_FILE_SYSTEM_TYPES.has(Number(new DataView(out.buffer).getBigInt64(0, true)));
    },
    walkRuns: (fd) => ({
      async next(offset) {
        const start = await call(NR.lseek, BigInt(fd), BigInt(offset), SEEK_DATA);
        if (start < 0) return start === ENXIO ? null : start;
        const end = await call(NR.lseek, BigInt(fd), BigInt(start), SEEK_HOLE);
        return end < 0 ? end : { start, end };
      },
    }),
    async copyRange(input, inputOffset, output, outputOffset, length) {
      const offsets = new BigInt64Array([BigInt(inputOffset), BigInt(outputOffset)]);
      const at = addressOf(offsets);
      // Held until the call is back: the kernel reads and writes the offsets from the other thread.
      pending.add(offsets);
      try {
        return await call(NR.copyFileRange, BigInt(input), at, BigInt(output), at + 8n, BigInt(length), 0n);
      } finally {
        pending.delete(offsets);
      }
    },
  };
}
