/**
 * `Libc` over `bun:ffi`.
 */
import type { Libc, LibcArch } from "./libc.ts";

/** Opens `libc.so.6` with `bun:ffi`. */
export async function openBunLibc(arch: LibcArch): Promise<Libc> {
  const ffi = await import("bun:ffi");
  const { symbols } = ffi.dlopen("libc.so.6", {
    syscall: { args: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], returns: "i64" },
    __errno_location: { args: [], returns: "ptr" },
  });
  return {
    arch,
    syscall(nr: number, ...args: bigint[]): bigint {
      const result = symbols.syscall(
        BigInt(nr),
        args[0] ?? 0n,
        args[1] ?? 0n,
        args[2] ?? 0n,
        args[3] ?? 0n,
        args[4] ?? 0n,
        args[5] ?? 0n,
      );
      return BigInt(result);
    },
    errno(): number {
      const location = symbols.__errno_location();
      return location === null ? 0 : ffi.read.i32(location, 0);
    },
    addressOf(buffer: Uint8Array): bigint {
      return BigInt(ffi.ptr(buffer));
    },
  };
}
