/**
 * `Libc` over `Deno.dlopen`.
 */
import type { Libc, LibcArch } from "./libc.ts";

/** Opens `libc.so.6` with `Deno.dlopen`. */
export function openDenoLibc(arch: LibcArch): Libc {
  const { symbols } = Deno.dlopen("libc.so.6", {
    syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
    __errno_location: { parameters: [], result: "pointer" },
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
      return location === null ? 0 : new Deno.UnsafePointerView(location).getInt32(0);
    },
    addressOf(buffer: Uint8Array): bigint {
      const pointer = Deno.UnsafePointer.of(buffer);
      return pointer === null ? 0n : BigInt(Deno.UnsafePointer.value(pointer));
    },
  };
}
