/**
 * A synchronous `lstat` for paths that stay on the root mount of a local file system, and the same
 * walk for a start's program check (`program`: stat, following symlinks, and `faccessat2`).
 *
 * An asynchronous `lstat` crosses to the runtime's thread pool and back: on this project's VM
 * 30–45 µs of CPU and two thread wake-ups per call, against about 5 µs for the same call made on
 * the calling thread. The server keeps file-system calls off its only thread because one call on a
 * hung network or FUSE mount would stop every session. This call cannot reach one: the path is
 * opened with `openat2(RESOLVE_NO_XDEV)`, which fails (EXDEV) as soon as the walk would cross a
 * mount point, symlinks and `..` included, and the root mount must be a disk or memory file system
 * (`statfs("/")` once); and with `RESOLVE_CACHED`, which fails (EAGAIN) where a name is not in the
 * kernel's cache, so the walk never waits for a directory's lock or the disk (a kernel before 5.12
 * refuses the flag, and then nothing is answered here). Whatever it cannot answer (another mount, a failure of any kind, a symlink,
 * a kernel without `openat2` or without birth times) it leaves to the caller's asynchronous path,
 * which also words every error but the two a walk that stayed on the root mount ends with (ENOENT,
 * ENOTDIR): those it names where the kernel's own errno can be had (`Libc.exactErrno`), since the
 * runtime's asynchronous `lstat` builds an error object on the pool's answer that costs more than
 * the stat (on Deno, about 170 µs of the server's CPU per missing path).
 * Runtime-neutral: `deno_root_mount_stat.ts` and `bun_root_mount_stat.ts` bind the C calls.
 */
import { libcArch, openLibc } from "./libc.ts";
import type { Libc, LibcArch } from "./libc.ts";
import type { RuntimeName } from "./runtime.ts";

/** What `fs/getMetadata` needs of a path that is not a symlink. */
export interface PathFacts {
  readonly isDirectory: boolean;
  readonly isFile: boolean;
  readonly size: number;
  /** Whole milliseconds since the epoch, as the runtime's own `lstat` makes them (`floatMilliseconds`). */
  readonly birthtimeMs: number;
  readonly mtimeMs: number;
}

/**
 * Which file a program path names: the fields that change whenever its bytes do, as `statx` gives
 * them (compare them only with another `ProgramFile`; `dev` is `makedev`'s, as in a stat's `dev`).
 */
export interface ProgramFile {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  /** Milliseconds since the epoch with the nanoseconds as a fraction. */
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/** Why a walk on the root mount failed where the stat can tell: the errno's name. */
export type WalkFailure = "ENOENT" | "ENOTDIR";

/** What `RootMountStat.lstat` can tell of a path; null: ask the asynchronous path. */
export type LstatAnswer = PathFacts | WalkFailure | null;

/** What `RootMountStat.program` can tell of a path; null: ask the asynchronous path. */
export type ProgramAnswer = ProgramFile | WalkFailure | null;

/** A synchronous `lstat` of paths on the root mount. */
export interface RootMountStat {
  /**
   * The facts of the absolute path `path`; ENOENT or ENOTDIR where the walk ends at a missing name
   * or at a file that is no directory (only where the errno is the kernel's own,
   * `Libc.exactErrno`), as `lstat` fails there; else null: ask the asynchronous path (see the module).
   */
  lstat(path: string): LstatAnswer;
  /**
   * The absolute path `path` with symlinks followed, where the walk stays on the root mount: the
   * file when it is a regular file that the kernel lets this process execute (`faccessat2`,
   * `X_OK`); ENOENT or ENOTDIR when the walk ends at a missing name or a file that is no
   * directory (answered only where the errno is the kernel's own, `Libc.exactErrno`); else null.
   */
  program(path: string): ProgramAnswer;
}

/** The C library calls the stat makes, bound by a runtime's FFI; each returns what the C call returns. */
export interface RootMountCalls {
  /** `statfs(path, out)`: 0 or -1. */
  statfs(path: Uint8Array, out: Uint8Array): number;
  /** `syscall(SYS_openat2, AT_FDCWD, path, how, how.byteLength)`: a descriptor or -1. */
  openat2(path: Uint8Array, how: Uint8Array): number;
  /** `statx(fd, "", AT_EMPTY_PATH, mask, out)` with `empty` the "": 0 or -1. */
  statx(fd: number, empty: Uint8Array, flags: number, mask: number, out: Uint8Array): number;
  /** `close(fd)`. */
  close(fd: number): number;
  /** `faccessat(fd, path, mode, flags)`: 0 or -1 (glibc asks the kernel's `faccessat2`). */
  faccessat(fd: number, path: Uint8Array, mode: number, flags: number): number;
  /**
   * Whether the runtime's own `lstat` makes its milliseconds in floating point, seconds × 1000 plus
   * nanoseconds / 1e6 (Bun), which lands on the next millisecond within about 244 ns of it, where
   * Deno truncates exactly: the stat answers as the runtime's own `lstat` does.
   */
  readonly floatMilliseconds: boolean;
}

/** `openat2` on both supported architectures. */
export const SYS_OPENAT2 = 437;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const O_NOFOLLOW: Record<LibcArch, number> = { x86_64: 0o400000, aarch64: 0o100000 };
const RESOLVE_NO_XDEV = 0x01;
/** Linux 5.12: the walk fails (EAGAIN) where a name is not in the kernel's cache. */
const RESOLVE_CACHED = 0x20;
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE = 0x1;
const STATX_MTIME = 0x40;
const STATX_SIZE = 0x200;
const STATX_BTIME = 0x800;
const NEEDED = STATX_TYPE | STATX_MTIME | STATX_SIZE | STATX_BTIME;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const PATH_MAX = 4096;
const STATX_MODE = 0x2;
const STATX_INO = 0x100;
const STATX_CTIME = 0x80;
const PROGRAM_NEEDED = STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_MTIME | STATX_CTIME;
const X_OK = 1;
const AT_FDCWD = -100n;
const ENOENT = 2n;
const ENOTDIR = 20n;

/**
 * File systems (`statfs`'s `f_type`) whose calls cannot hang on a peer: ext2/3/4, xfs, btrfs,
 * f2fs, tmpfs and overlayfs (a container's root; its layers are local directories).
 */
export const LOCAL_FILE_SYSTEM_TYPES: ReadonlySet<number> = new Set([
  0xef53,
  0x58465342,
  0x9123683e,
  0xf2f52010,
  0x01021994,
  0x794c7630,
]);

/**
 * The stat over `calls`, or null where the root mount is not local or `openat2` does not work.
 * `libc` tells why an `openat2` failed, where its errno is exact; without it `program` answers
 * only for files it finds.
 */
export function rootMountStat(
  calls: RootMountCalls,
  arch: LibcArch,
  libc?: Libc | null,
): RootMountStat | null {
  const statfsOut = new Uint8Array(256);
  if (calls.statfs(new TextEncoder().encode("/\0"), statfsOut) !== 0) return null;
  // f_type is the first member, a long.
  const rootType = Number(new DataView(statfsOut.buffer).getBigInt64(0, true));
  if (!LOCAL_FILE_SYSTEM_TYPES.has(rootType)) return null;
  const how = openHow(O_PATH | O_CLOEXEC | O_NOFOLLOW[arch]);
  const followHow = openHow(O_PATH | O_CLOEXEC);
  const pathBytes = new Uint8Array(PATH_MAX + 1);
  const out = new Uint8Array(256);
  const outView = new DataView(out.buffer);
  const empty = new Uint8Array(1);
  const encoder = new TextEncoder();
  /** `path` into `pathBytes` with its NUL; false where it is not an absolute path that fits. */
  const encoded = (path: string): boolean => {
    if (path.charCodeAt(0) !== 0x2f || path.includes("\0")) return false;
    const { read, written } = encoder.encodeInto(path, pathBytes);
    if (read !== path.length || written >= PATH_MAX) return false;
    pathBytes[written] = 0;
    return true;
  };
  const exact = libc?.exactErrno === true ? libc : null;
  /**
   * Why `openat2(pathBytes, openHowBytes)` fails, asked again through the exact system call: the
   * binding's own call leaves errno to libc, which the engine may overwrite before it is read.
   */
  const failure = (openHowBytes: Uint8Array): WalkFailure | null => {
    if (exact === null) return null;
    const result = exact.syscall(
      SYS_OPENAT2,
      AT_FDCWD,
      exact.addressOf(pathBytes),
      exact.addressOf(openHowBytes),
      BigInt(openHowBytes.byteLength),
    );
    if (result >= 0n) {
      // It is there now: the caller's asynchronous path judges it.
      calls.close(Number(result));
      return null;
    }
    return result === -ENOENT ? "ENOENT" : result === -ENOTDIR ? "ENOTDIR" : null;
  };
  const stat: RootMountStat = {
    lstat(path) {
      if (!encoded(path)) return null;
      const fd = calls.openat2(pathBytes, how);
      if (fd < 0) return failure(how);
      let answer: number;
      try {
        answer = calls.statx(fd, empty, AT_EMPTY_PATH, NEEDED, out);
      } finally {
        calls.close(fd);
      }
      return answer === 0 ? factsOf(outView, calls.floatMilliseconds) : null;
    },
    program(path) {
      if (!encoded(path)) return null;
      const fd = calls.openat2(pathBytes, followHow);
      if (fd < 0) return failure(followHow);
      try {
        if (calls.statx(fd, empty, AT_EMPTY_PATH, PROGRAM_NEEDED, out) !== 0) return null;
        const file = programFileOf(outView);
        if (file === null) return null;
        return calls.faccessat(fd, empty, X_OK, AT_EMPTY_PATH) === 0 ? file : null;
      } finally {
        calls.close(fd);
      }
    },
  };
  // A kernel before 5.6 has no openat2, and a seccomp filter may refuse it: then nothing is gained.
  const root = stat.lstat("/");
  return root === null || typeof root === "string" ? null : stat;
}

/**
 * An `open_how` for `openat2` with `flags`, `RESOLVE_NO_XDEV` and `RESOLVE_CACHED`. A name the
 * kernel has not cached is looked up under its directory's lock, which an `unlink` or `link` of a
 * file another process is writing holds for as long as that write lasts (seconds for a large
 * direct write): a sandbox that kept a directory so held stopped the server's thread at each new
 * name a client looked up there (red team 16b). Cached, the walk takes no lock and does no I/O;
 * the rest goes to the caller's asynchronous path, which caches what it looks up.
 */
function openHow(flags: number): Uint8Array {
  const how = new Uint8Array(24);
  const view = new DataView(how.buffer);
  view.setBigUint64(0, BigInt(flags), true);
  view.setBigUint64(16, BigInt(RESOLVE_NO_XDEV | RESOLVE_CACHED), true);
  return how;
}

/** The `ProgramFile` of a `struct statx`; null where a member is missing or it is no regular file. */
export function programFileOf(view: DataView): ProgramFile | null {
  if ((view.getUint32(0, true) & PROGRAM_NEEDED) !== PROGRAM_NEEDED) return null;
  if ((view.getUint16(28, true) & S_IFMT) !== S_IFREG) return null;
  return {
    dev: makedev(view.getUint32(136, true), view.getUint32(140, true)),
    ino: Number(view.getBigUint64(32, true)),
    size: Number(view.getBigUint64(40, true)),
    ctimeMs: stampMs(view, 96),
    mtimeMs: stampMs(view, 112),
  };
}

/** glibc's `makedev`, the `dev` a stat reports. */
function makedev(major: number, minor: number): number {
  const high = BigInt(major >>> 12) << 44n | BigInt(minor >>> 8) << 20n;
  return Number(high) + ((major & 0xfff) << 8) + (minor & 0xff);
}

/** A `statx_timestamp` at `offset` in milliseconds, the nanoseconds as a fraction. */
function stampMs(view: DataView, offset: number): number {
  return Number(view.getBigInt64(offset, true)) * 1000 + view.getUint32(offset + 8, true) / 1_000_000;
}

/** Reads a `struct statx`; null where a member is missing, the path is a symlink or a time is before 1970. */
export function factsOf(view: DataView, floatMilliseconds: boolean): PathFacts | null {
  if ((view.getUint32(0, true) & NEEDED) !== NEEDED) return null;
  const type = view.getUint16(28, true) & S_IFMT;
  if (type === S_IFLNK) return null;
  const birthtimeMs = millisecondsAt(view, 80, floatMilliseconds);
  const mtimeMs = millisecondsAt(view, 112, floatMilliseconds);
  if (birthtimeMs === null || mtimeMs === null) return null;
  return {
    isDirectory: type === S_IFDIR,
    isFile: type === S_IFREG,
    size: Number(view.getBigUint64(40, true)),
    birthtimeMs,
    mtimeMs,
  };
}

/** A `statx_timestamp` at `offset` in whole milliseconds (see `floatMilliseconds`); null before the epoch. */
function millisecondsAt(view: DataView, offset: number, floatMilliseconds: boolean): number | null {
  const seconds = Number(view.getBigInt64(offset, true));
  if (seconds < 0) return null;
  const nanoseconds = view.getUint32(offset + 8, true);
  return floatMilliseconds
    ? Math.trunc(seconds * 1000 + nanoseconds / 1_000_000)
    : seconds * 1000 + Math.trunc(nanoseconds / 1_000_000);
}

/** The Deno binding, hidden from `tsc` (which has no Deno types); bundlers fold the name. */
async function importDenoCalls(): Promise<unknown> {
  return await import("./deno_root_mount_stat" + ".ts");
}

/** The stat for this runtime, or null where FFI, the kernel or the root mount do not allow it. */
export async function openRootMountStat(name: RuntimeName, nodeArch: string): Promise<RootMountStat | null> {
  const arch = libcArch(nodeArch);
  if (arch === null) return null;
  try {
    const libc = await openLibc(name, nodeArch).catch(() => null);
    if (name === "bun") {
      const { bunRootMountCalls } = await import("./bun_root_mount_stat.ts");
      return rootMountStat(await bunRootMountCalls(), arch, libc);
    }
    const adapter = await importDenoCalls();
    if (typeof adapter === "object" && adapter !== null && "denoRootMountCalls" in adapter) {
      const bind = adapter.denoRootMountCalls;
      // deno_root_mount_stat.ts declares it `(): RootMountCalls`; `deno check` verifies it there.
      if (typeof bind === "function") return rootMountStat((bind as () => RootMountCalls)(), arch, libc);
    }
    return null;
  } catch {
    // No FFI permission (a Deno run without --allow-ffi) or no libc.so.6.
    return null;
  }
}
