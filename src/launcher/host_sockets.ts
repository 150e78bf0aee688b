/**
 * Host daemons' unix sockets in the read-only parts of the roots. Neither the mount namespace nor
 * Landlock (ABI 7) governs `connect` to a socket file a root shows, read-only or not, and a daemon
 * listening there acts for the sandbox outside it: a root sandbox that reads `/` (Codex's read-only
 * policy) reached the system bus, or the container runtime's socket, as root. A socket in a
 * read-only part of a root was bound by no sandbox of this policy (a sandbox binds only where it
 * may write), so every bound socket the host's table (`/proc/net/unix`) names there is covered
 * with an empty read-only file at launch. Sockets in writable roots stay: the sandbox's own
 * processes bind and connect there.
 */
import { AT_FDCWD } from "./landlock.ts";
import type { MountEntry } from "./kernel_mounts.ts";
import { coverWithClone } from "./mount_cover.ts";
import { openFlags } from "./open_flags.ts";
import type { Sys } from "./sys.ts";

/** The bound pathname sockets of a `/proc/net/unix` text, each once. */
export function boundSocketPaths(text: string): string[] {
  const found = new Set<string>();
  for (const line of text.split("\n").slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path: only the path, the rest of the line (spaces
    // included), has a slash; most sockets have none (unbound or abstract ones).
    const start = line.indexOf(" /");
    if (start >= 0) found.add(line.slice(start + 1));
  }
  return [...found];
}

const RESOLVE_NO_MAGICLINKS = 0x02n;
const RESOLVE_NO_SYMLINKS = 0x04n;
const AT_EMPTY_PATH = 0x1000n;
const AT_SYMLINK_NOFOLLOW = 0x100n;
const STATX_TYPE = 0x1;
const STATX_MNT_ID = 0x1000;
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;

/**
 * Covers each socket of `paths` that lies under `under` (the new root) in a read-only mount of
 * `mounts` (the launcher's table once the roots are in). Each is opened without following any
 * symbolic link and covered through that descriptor; one missing, behind a link or not a socket
 * any more is skipped. `cover` is a path where an empty file for the covers may be made.
 */
export function coverHostSockets(
  sys: Sys,
  paths: readonly string[],
  options: { under: string; mounts: readonly MountEntry[]; cover: string },
): void {
  const readOnly = new Set(options.mounts.filter((mount) => mount.readOnly).map((mount) => BigInt(mount.id)));
  const flags = openFlags(sys.libc.arch);
  let coverFd: bigint | null = null;
  // Each descriptor is closed as soon as its socket is dealt with: a host lists hundreds of
  // sockets, and a descriptor table that grows past 64 while the runtime's threads share it waits
  // for an RCU grace period (milliseconds) at each growth.
  const coverOne = (path: string): void => {
    const how = new Uint8Array(24);
    const view = new DataView(how.buffer);
    view.setBigUint64(0, flags.O_PATH | flags.O_CLOEXEC, true);
    view.setBigUint64(16, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, true);
    const fd = sys.try("openat2", [AT_FDCWD, sys.cString(`${options.under}${path}`), sys.buffer(how), 24n]);
    if (fd < 0n) return;
    try {
      const statx = new Uint8Array(256);
      const stat = new DataView(statx.buffer);
      sys.call("statx", [
        fd,
        sys.cString(""),
        AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
        BigInt(STATX_TYPE | STATX_MNT_ID),
        sys.buffer(statx),
      ], path);
      if ((stat.getUint16(28, true) & S_IFMT) !== S_IFSOCK) return;
      if ((stat.getUint32(0, true) & STATX_MNT_ID) === 0 || !readOnly.has(stat.getBigUint64(144, true))) {
        return;
      }
      if (coverFd === null) {
        const made = sys.call("openat", [
          AT_FDCWD,
          sys.cString(options.cover),
          flags.O_CREAT | flags.O_WRONLY | flags.O_CLOEXEC,
          0o444n,
        ], options.cover);
        sys.try("close", [made]);
        coverFd = sys.call("openat", [AT_FDCWD, sys.cString(options.cover), flags.O_PATH | flags.O_CLOEXEC]);
      }
      coverWithClone(sys, coverFd, fd, path);
    } finally {
      sys.try("close", [fd]);
    }
  };
  try {
    for (const path of paths) coverOne(path);
  } finally {
    if (coverFd !== null) sys.try("close", [coverFd]);
  }
}
