/**
 * `Libc` over `Deno.dlopen`.
 */
import type { Libc, LibcArch } from "./libc.ts";
import { hexBytes, mapCode, RAW_SYSCALL_X86_64, syscallArgs } from "./raw_syscall.ts";

const SYSCALL = {
  parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"],
  result: "i64",
} as const;

/** Opens `libc.so.6` with `Deno.dlopen`. */
export function openDenoLibc(arch: LibcArch): Libc {
  const { symbols } = Deno.dlopen("libc.so.6", {
    syscall: SYSCALL,
    __errno_location: { parameters: [], result: "pointer" },
  });
  const addressOf = (buffer: Uint8Array): bigint => {
    const pointer = Deno.UnsafePointer.of(buffer);
    return pointer === null ? 0n : BigInt(Deno.UnsafePointer.value(pointer));
  };
  const libcSyscall = (nr: number, ...args: bigint[]): bigint =>
    BigInt(symbols.syscall(...syscallArgs(nr, args)));
  const code = arch === "x86_64"
    ? mapCode(hexBytes(RAW_SYSCALL_X86_64), { syscall: libcSyscall, addressOf })
    : null;
  const pointer = code === null ? null : Deno.UnsafePointer.create<typeof SYSCALL>(code);
  if (pointer !== null) {
    const raw = new Deno.UnsafeFnPointer(pointer, SYSCALL);
    return {
      arch,
      exactErrno: true,
      syscall: (nr, ...args) => BigInt(raw.call(...syscallArgs(nr, args))),
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
      return location === null ? -1n : -BigInt(new Deno.UnsafePointerView(location).getInt32(0));
    },
    addressOf,
  };
}
