/**
 * `RootMountCalls` over `bun:ffi`.
 */
import type { RootMountCalls } from "./root_mount_stat.ts";
import { SYS_OPENAT2 } from "./root_mount_stat.ts";

/** Binds the calls in `libc.so.6`. */
export async function bunRootMountCalls(): Promise<RootMountCalls> {
  const ffi = await import("bun:ffi");
  const { symbols } = ffi.dlopen("libc.so.6", {
    statfs: { args: ["ptr", "ptr"], returns: "i32" },
    statx: { args: ["i32", "ptr", "i32", "u32", "ptr"], returns: "i32" },
    close: { args: ["i32"], returns: "i32" },
    faccessat: { args: ["i32", "ptr", "i32", "i32"], returns: "i32" },
    syscall: { args: ["i64", "i64", "ptr", "ptr", "i64"], returns: "i64" },
  });
  return {
    statfs: (path, out) => symbols.statfs(path, out),
    openat2: (path, how) => Number(symbols.syscall(SYS_OPENAT2, -100, path, how, how.byteLength)),
    statx: (fd, empty, flags, mask, out) => symbols.statx(fd, empty, flags, mask, out),
    close: (fd) => symbols.close(fd),
    faccessat: (fd, path, mode, flags) => symbols.faccessat(fd, path, mode, flags),
    floatMilliseconds: true,
  };
}
