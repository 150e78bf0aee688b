/**
 * Host daemons' unix sockets in the read-only parts of the roots. Neither the mount namespace nor
 * Landlock (ABI 7) governs `connect` to a socket file a root shows, read-only or not, and a daemon
 * listening there acts for the sandbox outside it: a root sandbox that reads `/` (Codex's read-only
 * policy) reached the system bus, or the container runtime's socket, as root. A socket in a
 * read-only part of a root was bound by no sandbox of this policy (a sandbox binds only where it
 * may write), so every bound socket the host's table (`unix_diag.ts`) names there is covered
 * with an empty read-only file at launch. In writable roots, where the sandbox's own processes bind
 * and connect, a socket is covered unless every socket serving there is held by a sandbox's
 * process (another running command's dev server stays reachable; a tmux server's
 * `/tmp/tmux-UID/default` under a writable `/tmp`, which runs any command for its user, does not).
 *
 * The table names a socket as its daemon bound it, which need not be where a root shows it: a path
 * through a symbolic link (dockerd binds `/var/run/docker.sock`, and `/var/run` leads to `/run` on
 * most hosts) or a file a bind mount shows under a second path (a container's, `BindPaths=`). So
 * each is looked up on the host, links followed, and covered wherever a mount of the new root
 * shows that very file.
 */
import { AT_FDCWD } from "./landlock.ts";
import type { MountEntry } from "./kernel_mounts.ts";
import { coverWithClone } from "./mount_cover.ts";
import { openFlags } from "./open_flags.ts";
import { cPathBytes, decodePathBytes } from "./path_bytes.ts";
import { type Sys, SyscallError } from "./sys.ts";

/** One bound pathname socket of the host's table. */
export interface BoundSocket {
  readonly path: string;
  /** Its inode number, as `/proc/PID/fd` names it (`socket:[N]`). */
  readonly inode: string;
  /** Whether others can reach it there: a listening socket or a datagram one. */
  readonly serving: boolean;
  /** The file it bound (`unix_diag.ts`); null where the table's text was read, which has none. */
  readonly file: SocketFile | null;
}

/** The file a socket bound, as `sock_diag` gives it: its device and the low 32 bits of its inode. */
export interface SocketFile {
  readonly major: number;
  readonly minor: number;
  readonly inode: number;
}

const SO_ACCEPTCON = 0x10000;
const SOCK_DGRAM = 2;
const ENOENT = 2;
const PATH_MAX = 4096;
/** How many times a socket whose name was removed under the cover is looked up and covered again. */
const COVER_TRIES = 8;

/** The bound pathname sockets of a `/proc/net/unix` text (where the kernel refuses `unix_diag.ts`). */
export function boundSockets(text: string): BoundSocket[] {
  const found: BoundSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path: only the path, the rest of the line (spaces
    // included), has a slash; most sockets have none (unbound or abstract ones).
    const start = line.indexOf(" /");
    if (start < 0) continue;
    const [, , , flags = "0", type = "0", , inode = ""] = line.slice(0, start).trim().split(/ +/);
    found.push({
      path: line.slice(start + 1),
      inode,
      serving: (Number.parseInt(flags, 16) & SO_ACCEPTCON) !== 0 || Number.parseInt(type, 16) === SOCK_DGRAM,
      file: null,
    });
  }
  return found;
}

/** The bound pathname sockets of a `/proc/net/unix` text, each path once. */
export function boundSocketPaths(text: string): string[] {
  return [...new Set(boundSockets(text).map((socket) => socket.path))];
}

const RESOLVE_NO_MAGICLINKS = 0x02n;
const RESOLVE_NO_SYMLINKS = 0x04n;
const RESOLVE_NO_XDEV = 0x01n;
const RESOLVE_IN_ROOT = 0x10n;
const OPEN_TREE_CLONE = 1n;
const AT_RECURSIVE = 0x8000n;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4n;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40n;
const AT_EMPTY_PATH = 0x1000n;
const AT_SYMLINK_NOFOLLOW = 0x100n;
const STATX_TYPE = 0x1;
const STATX_INO = 0x100;
const STATX_MNT_ID = 0x1000;
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const S_IFDIR = 0o040000;
/**
 * More sockets to cover than this below one directory of an area a sandbox may write, and the
 * directory is covered whole where the new root shows it read-only (`crowdedDirectories`). The
 * count takes the host's own sockets too, so it sits well above what a busy host keeps in `/tmp`
 * (an X server, tmux, an ssh-agent per login), which a policy that only reads `/tmp` would
 * otherwise see empty; 256 covers cost a launch about 17 ms.
 */
export const CROWDED_SOCKETS = 256;

/** What `statx` says of a descriptor: its type, its file's identity and its mount. */
interface FileFacts {
  readonly socket: boolean;
  readonly directory: boolean;
  readonly identity: string;
  readonly mountId: bigint | null;
  /** Whether it is the file `file` names (`sock_diag` gives the low 32 bits of its inode). */
  is(file: SocketFile): boolean;
}

/** Where each bound socket lies and where the new root shows it: see `coverHostSockets`. */
export interface HostSocketOptions {
  /** The host's root, as the launcher reaches it (`/oldroot`). */
  readonly host: string;
  /** The new root. */
  readonly under: string;
  /** The launcher's table once the roots are in: the host's mounts under `host`, the new root's under `under`. */
  readonly mounts: readonly MountEntry[];
  /** A path where an empty file for the covers may be made. */
  readonly cover: string;
  /** A path where an empty directory for the covers of crowded directories may be made. */
  readonly directoryCover: string;
  /** The areas a sandbox may write (host paths), where crowded directories are covered whole. */
  readonly areas: readonly string[];
  /** What the launch must show (its roots, carve-outs, program image and cwd): never covered whole. */
  readonly keep: readonly string[];
  /** The inodes of the sockets sandboxes' processes hold (`sandbox_sockets.ts`), asked for at most once. */
  readonly heldBySandboxes: () => ReadonlySet<string>;
}

/**
 * Covers each socket of `paths` (as the host's table names them) wherever a read-only mount of the
 * new root shows it. Each is looked up under the host's root, symbolic links followed as the host
 * follows them, and found again under every mount of the new root that shows its file system's
 * directory holding it; each such path is opened without following any link and covered through
 * that descriptor when it is the same file, in a read-only mount. One missing, or not a socket any
 * more, is skipped.
 */
export function coverHostSockets(
  sys: Sys,
  sockets: readonly BoundSocket[],
  options: HostSocketOptions,
): void {
  const readOnly = new Set(options.mounts.filter((mount) => mount.readOnly).map((mount) => BigInt(mount.id)));
  const byId = new Map(options.mounts.map((mount) => [BigInt(mount.id), mount]));
  const shown = options.mounts.filter((mount) => isWithin(mount.mountPoint, options.under));
  const flags = openFlags(sys.libc.arch);
  const facts = (fd: bigint, path: string): FileFacts => {
    const statx = new Uint8Array(256);
    const stat = new DataView(statx.buffer);
    sys.call("statx", [
      fd,
      sys.cString(""),
      AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
      BigInt(STATX_TYPE | STATX_INO | STATX_MNT_ID),
      sys.buffer(statx),
    ], path);
    // stx_dev_major, stx_dev_minor, stx_ino
    const major = stat.getUint32(136, true);
    const minor = stat.getUint32(140, true);
    const inode = stat.getBigUint64(32, true);
    return {
      socket: (stat.getUint16(28, true) & S_IFMT) === S_IFSOCK,
      directory: (stat.getUint16(28, true) & S_IFMT) === S_IFDIR,
      identity: `${major}:${minor}:${inode}`,
      mountId: (stat.getUint32(0, true) & STATX_MNT_ID) === 0 ? null : stat.getBigUint64(144, true),
      // The inode alone: the device `statx` gives is not always the superblock's that `sock_diag`
      // gives (a btrfs subvolume's, an overlay's upper layer's), and the name already names the place.
      is: (file) => BigInt(file.inode) === (inode & 0xffffffffn),
    };
  };
  /** The target of the link `path`, its bytes kept (`path_bytes.ts`); throws when it has none. */
  const readLink = (path: string): string => {
    const target = new Uint8Array(PATH_MAX);
    const length = sys.call("readlinkat", [
      AT_FDCWD,
      sys.cString(path),
      sys.buffer(target),
      BigInt(target.length),
    ], path);
    if (length >= BigInt(target.length)) throw new RangeError(`${path}: the link's target is too long`);
    return decodePathBytes(target.subarray(0, Number(length)));
  };
  const open = (dir: bigint, path: string, resolve: bigint): bigint => {
    const how = new Uint8Array(24);
    const view = new DataView(how.buffer);
    view.setBigUint64(0, flags.O_PATH | flags.O_CLOEXEC, true);
    view.setBigUint64(16, resolve, true);
    // The path's bytes as the kernel gave them: a socket's name need not be UTF-8 (`path_bytes.ts`).
    return sys.try("openat2", [dir, sys.buffer(cPathBytes(path)), sys.buffer(how), 24n]);
  };
  let coverFd: bigint | null = null;
  let held: ReadonlySet<string> | null = null;
  const covered = new Set<string>();
  // Each descriptor is closed as soon as its socket is dealt with: a host lists hundreds of
  // sockets, and a descriptor table that grows past 64 while the runtime's threads share it waits
  // for an RCU grace period (milliseconds) at each growth.
  const coverAt = (path: string, identity: string, serving: readonly string[]): void => {
    if (covered.has(path)) return;
    let fd = open(AT_FDCWD, path, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (fd < 0n) return;
    try {
      const found = facts(fd, path);
      if (!found.socket || found.identity !== identity || found.mountId === null) return;
      covered.add(path);
      if (!readOnly.has(found.mountId)) {
        // Where the sandbox may write, its own processes and other sandboxes' bind and connect.
        held ??= options.heldBySandboxes();
        const sandboxes = held;
        if (serving.every((inode) => sandboxes.has(inode))) return;
        // Where the way cannot be pinned (it changed meanwhile), the socket is still covered.
        const pinned = pinWay(found.mountId, path);
        if (pinned !== null) {
          const again = facts(pinned, path);
          if (again.socket && again.identity === identity) {
            sys.try("close", [fd]);
            fd = pinned;
          } else {
            sys.try("close", [pinned]);
          }
        }
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
      for (let tries = 1;; tries++) {
        try {
          coverWithClone(sys, coverFd, fd, path);
          return;
        } catch (error) {
          // The kernel refuses a mount on a name that was removed after the open (ENOENT). Hosts
          // bind and remove short-lived sockets all the time (editors, language servers, test
          // runners under /tmp), and a sandbox that may write the directory can move its own
          // sockets to another name and back in a loop (hard links), which failed 9 of 30 launches
          // of another policy reading that directory. So the name is looked up again: nothing
          // there, or another file, leaves nothing of the table's to cover; the same socket is
          // covered again, a few times before the launch gives up.
          if (!(error instanceof SyscallError && error.errno === ENOENT) || tries >= COVER_TRIES) throw error;
        }
        sys.try("close", [fd]);
        fd = open(AT_FDCWD, path, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (fd < 0n) return;
        const again = facts(fd, path);
        if (!again.socket || again.identity !== identity) return;
      }
    } finally {
      if (fd >= 0n) sys.try("close", [fd]);
    }
  };
  /**
   * Binds every directory between the writable mount `mountId` and the socket at `path` onto
   * itself (a recursive clone, so covers beneath stay), shallowest first, and opens the socket
   * again through them; null when the way changed. Inside the sandbox each is then a mount point,
   * which renaming or removing fails (EBUSY): a sandbox that moved a directory on the way would
   * have later launches look for the socket where the host's table names it, and miss it.
   */
  const pinWay = (mountId: bigint, path: string): bigint | null => {
    const mount = byId.get(mountId);
    if (mount === undefined || !isWithin(path, mount.mountPoint) || path === mount.mountPoint) return null;
    const parts = path.slice(mount.mountPoint === "/" ? 1 : mount.mountPoint.length + 1).split("/");
    const name = parts.pop() ?? "";
    const within = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    let current = open(AT_FDCWD, mount.mountPoint, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (current < 0n) return null;
    try {
      for (const part of parts) {
        const next = open(current, part, within);
        if (next < 0n) return null;
        try {
          const tree = sys.try("open_tree", [
            next,
            sys.cString(""),
            OPEN_TREE_CLONE | AT_RECURSIVE | AT_EMPTY_PATH | flags.O_CLOEXEC,
          ]);
          if (tree < 0n) return null;
          const moved = sys.try("move_mount", [
            tree,
            sys.cString(""),
            next,
            sys.cString(""),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
          ]);
          if (moved < 0n) {
            sys.try("close", [tree]);
            return null;
          }
          sys.try("close", [current]);
          current = tree;
        } finally {
          sys.try("close", [next]);
        }
      }
      const socket = open(current, name, within);
      return socket < 0n ? null : socket;
    } finally {
      sys.try("close", [current]);
    }
  };
  /**
   * Covers `dir` with an empty read-only directory where the new root shows it, in a read-only
   * mount, as the very directory the host has there; leaves it alone otherwise, or when the cover
   * fails (its sockets are then covered one by one, as before).
   */
  let directoryCoverFd: bigint | null = null;
  const coverDirectory = (dir: string): void => {
    const at = joinPath(options.under, dir);
    const target = open(AT_FDCWD, at, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (target < 0n) return;
    try {
      const shown = facts(target, at);
      if (!shown.directory || shown.mountId === null || !readOnly.has(shown.mountId)) return;
      const onHost = open(AT_FDCWD, joinPath(options.host, dir), RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
      if (onHost < 0n) return;
      try {
        if (facts(onHost, dir).identity !== shown.identity) return;
      } finally {
        sys.try("close", [onHost]);
      }
      if (directoryCoverFd === null) {
        sys.try("mkdirat", [AT_FDCWD, sys.cString(options.directoryCover), 0o555n]);
        directoryCoverFd = sys.call("openat", [
          AT_FDCWD,
          sys.cString(options.directoryCover),
          flags.O_PATH | flags.O_DIRECTORY | flags.O_CLOEXEC,
        ], options.directoryCover);
      }
      try {
        coverWithClone(sys, directoryCoverFd, target, at);
      } catch {
        // Renamed or removed meanwhile: its sockets are covered one by one below.
      }
    } finally {
      sys.try("close", [target]);
    }
  };
  /**
   * Where the host has the socket the table names `path`: its host path, links followed, and its
   * identity and place in its file system; null when no socket is there, or its place is unknown.
   */
  const lookUp = (
    hostRoot: bigint,
    path: string,
    file: SocketFile | null,
    serving: readonly string[],
  ): FoundSocket | null => {
    const fd = open(hostRoot, path.slice(1), RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0n) return null;
    try {
      const found = facts(fd, path);
      if (!found.socket || found.mountId === null) return null;
      // A name that now leads to another file (one bound or renamed there since) is not this socket's.
      if (file !== null && !found.is(file)) return null;
      const holder = byId.get(found.mountId);
      let real: string | null = null;
      try {
        real = readLink(`${options.host}/proc/self/fd/${fd}`);
      } catch {
        // Without the host's /proc the file's place is not known: nothing to cover.
      }
      if (real === null || holder === undefined || !isWithin(real, holder.mountPoint)) return null;
      if (real !== options.host && !real.startsWith(`${options.host}/`)) return null;
      return {
        hostPath: real.slice(options.host.length) || "/",
        identity: found.identity,
        device: holder.device,
        inside: joinPath(holder.root, real.slice(holder.mountPoint.length)),
        serving,
      };
    } finally {
      sys.try("close", [fd]);
    }
  };
  /** Covers `socket` wherever a mount of the new root shows it; `serving`: what its file serves. */
  const coverFound = (socket: FoundSocket, serving: readonly string[]): void => {
    for (const mount of shown) {
      if (mount.device !== socket.device || !isWithin(socket.inside, mount.root)) continue;
      coverAt(
        joinPath(
          mount.mountPoint,
          mount.root === "/" ? socket.inside : socket.inside.slice(mount.root.length),
        ),
        socket.identity,
        serving,
      );
    }
  };
  const hostRoot = sys.call("openat", [
    AT_FDCWD,
    sys.cString(options.host),
    flags.O_PATH | flags.O_DIRECTORY | flags.O_CLOEXEC,
  ], options.host);
  try {
    // A path may be listed more than once: a listening socket with the connections it accepted, or
    // sockets bound there before their files were removed (which `sock_diag` tells apart by file).
    const byName = new Map<string, { path: string; file: SocketFile | null; inodes: string[] }>();
    for (const socket of sockets) {
      const { file } = socket;
      const key = file === null ? socket.path : `${socket.path}\0${file.major}:${file.minor}:${file.inode}`;
      let entry = byName.get(key);
      if (entry === undefined) byName.set(key, entry = { path: socket.path, file, inodes: [] });
      if (socket.serving) entry.inodes.push(socket.inode);
    }
    const found: FoundSocket[] = [];
    for (const { path, file, inodes } of byName.values()) {
      const socket = lookUp(hostRoot, path, file, inodes);
      if (socket !== null) found.push(socket);
    }
    // Only sockets the host has count, where it has them: the table prints a name as it was bound,
    // newlines included, so a sandbox's socket named `s\n /w/other/dir/1` reads as a socket in a
    // directory that sandbox cannot write, and 257 of them had a read-only view of it emptied.
    // Covered first, so that the sockets inside are found hidden and need no cover of their own.
    const places = [...new Set(found.map((socket) => socket.hostPath))];
    for (const dir of crowdedDirectories(places, options)) coverDirectory(dir);
    // A file serves every socket of every name that leads to it: a sandbox's socket bound as
    // `x /w/ws/./daemon.sock` is listed under a name that leads to a daemon's socket, serving
    // nothing, and deciding by that name alone left the daemon's socket uncovered.
    const servingOf = new Map<string, Set<string>>();
    for (const socket of found) {
      const inodes = servingOf.get(socket.identity) ?? new Set<string>();
      for (const inode of socket.serving) inodes.add(inode);
      servingOf.set(socket.identity, inodes);
    }
    for (const socket of found) coverFound(socket, [...(servingOf.get(socket.identity) ?? [])]);
  } finally {
    sys.try("close", [hostRoot]);
    if (coverFd !== null) sys.try("close", [coverFd]);
    if (directoryCoverFd !== null) sys.try("close", [directoryCoverFd]);
  }
}

/** A socket of the table as the host has it (`coverHostSockets`). */
interface FoundSocket {
  /** Where the host has it, links followed. */
  readonly hostPath: string;
  readonly identity: string;
  /** The device of its file system, and its path there. */
  readonly device: string;
  readonly inside: string;
  /** The inodes of the table's serving sockets of its name. */
  readonly serving: readonly string[];
}

/**
 * The directories that hold more than `CROWDED_SOCKETS` of `paths`, each inside one of `areas`
 * (which a sandbox may write) and the highest one on the way from its area to the sockets that
 * holds no other mount of the new root (`mounts`, shown under `under`) and is none of `keep` nor
 * holds one: covering it hides only what lies there, never the launch's own roots, carve-outs,
 * program image (the fs worker's bundle, where the server's installation lies in the area) or
 * cwd. A sandbox may bind as many sockets in its writable roots as its descriptors
 * allow, in several processes, and every other policy whose read-only roots showed them covered
 * each with a mount of its own: 114,000 sockets held by six processes of one network-off sandbox
 * took 7–8 s of every such launch and then failed it, past the kernel's `fs.mount-max` (100,000
 * mounts in a namespace, ENOSPC). A directory a sandbox may write holds nothing the sandbox could
 * not remove as well, so hiding it from a read-only view takes nothing the sandbox could not.
 */
export function crowdedDirectories(
  paths: readonly string[],
  options: Pick<HostSocketOptions, "areas" | "under" | "mounts" | "keep">,
): string[] {
  const { areas, under, mounts, keep } = options;
  const nestedAt = new Map<string, boolean>();
  const nested = (dir: string): boolean => {
    let found = nestedAt.get(dir);
    if (found === undefined) {
      const at = joinPath(under, dir);
      found = mounts.some((mount) => mount.mountPoint !== at && isWithin(mount.mountPoint, at)) ||
        keep.some((path) => isWithin(path, dir));
      nestedAt.set(dir, found);
    }
    return found;
  };
  const unitOf = new Map<string, string | null>();
  const counts = new Map<string, number>();
  for (const path of paths) {
    const parent = path.slice(0, path.lastIndexOf("/")) || "/";
    let unit = unitOf.get(parent);
    if (unit === undefined) {
      unit = null;
      const area = areas.find((candidate) => candidate !== "/" && isWithin(parent, candidate));
      if (area !== undefined) {
        const rest = parent === area ? [] : parent.slice(area.length + 1).split("/");
        let dir = area;
        while (nested(dir)) {
          const next = rest.shift();
          if (next === undefined) break;
          dir = `${dir}/${next}`;
        }
        unit = nested(dir) ? null : dir;
      }
      unitOf.set(parent, unit);
    }
    if (unit !== null) counts.set(unit, (counts.get(unit) ?? 0) + 1);
  }
  return [...counts].filter(([, count]) => count > CROWDED_SOCKETS).map(([dir]) => dir);
}

/** Whether `path` is `root` or lies below it. */
function isWithin(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(`${root}/`);
}

/** `base` followed by `rest` (empty, or starting with a slash). */
function joinPath(base: string, rest: string): string {
  if (rest === "" || rest === "/") return base;
  return base === "/" ? rest : `${base}${rest}`;
}
