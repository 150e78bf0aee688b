/**
 * `Libc` over `bun:ffi`.
 */
import type { Libc, LibcArch } from "./libc.ts";
import { hexBytes, mapCode, RAW_SYSCALL_X86_64, syscallArgs } from "./raw_syscall.ts";

const SYSCALL_ARGS = ["i64", "i64", "i64", "i64", "i64", "i64", "i64"] as const;

/** Opens `libc.so.6` with `bun:ffi`. */
export async function openBunLibc(arch: LibcArch): Promise<Libc> {
  const ffi = await import("bun:ffi");
  const { symbols } = ffi.dlopen("libc.so.6", {
    syscall: { args: [...SYSCALL_ARGS], returns: "i64" },
    __errno_location: { args: [], returns: "ptr" },
  });
  const addressOf = (buffer: Uint8Array): bigint => BigInt(ffi.ptr(buffer));
  const libcSyscall = (nr: number, ...args: bigint[]): bigint =>
    BigInt(symbols.syscall(...syscallArgs(nr, args)));
  const code = arch === "x86_64"
    ? mapCode(hexBytes(RAW_SYSCALL_X86_64), { syscall: libcSyscall, addressOf })
    : null;
  if (code !== null) {
    const raw = ffi.CFunction({ ptr: Number(code) as never, args: [...SYSCALL_ARGS], returns: "i64" });
    return {
      arch,
      exactErrno: true,
      syscall: (nr, ...args) => BigInt(raw(...syscallArgs(nr, args))),
      addressOf,
    };
  }
  return {
    arch,
    exactErrno: false,
    // errno is read as soon as the call is back, but the engine may have run work of its own in
    // between (raw_syscall.ts): exact only where the raw call cannot be mapped.
    syscall(nr: number, ...args: bigint[]): bigint {
      const result = libcSyscall(nr, ...args);
      if (result !== -1n) return result;
      const location = symbols.__errno_location();
      return location === null ? -1n : -BigInt(ffi.read.i32(location, 0));
    },
    addressOf,
  };
}
