/**
 * `RootMountCalls` over `Deno.dlopen`. Numbers and buffers only: calls of those types take V8's
 * fast path (about 0.4 µs each here), where the bigint arguments of `Libc.syscall` cost 7 µs.
 */
import type { RootMountCalls } from "./root_mount_stat.ts";
import { SYS_OPENAT2 } from "./root_mount_stat.ts";

const AT_FDCWD = -100n;

/** Binds the calls in `libc.so.6`; throws without FFI permission. */
export function denoRootMountCalls(): RootMountCalls {
  const { symbols } = Deno.dlopen("libc.so.6", {
    statfs: { parameters: ["buffer", "buffer"], result: "i32" },
    statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    faccessat: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
    syscall: { parameters: ["i64", "i64", "buffer", "buffer", "i64"], result: "i64" },
  });
  const number = BigInt(SYS_OPENAT2);
  return {
    statfs: (path, out) => symbols.statfs(path, out),
    openat2: (path, how) => Number(symbols.syscall(number, AT_FDCWD, path, how, BigInt(how.byteLength))),
    statx: (fd, empty, flags, mask, out) => symbols.statx(fd, empty, flags, mask, out),
    close: (fd) => symbols.close(fd),
    faccessat: (fd, path, mode, flags) => symbols.faccessat(fd, path, mode, flags),
    floatMilliseconds: false,
  };
}
