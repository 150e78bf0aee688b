/**
 * The private mount namespace of the launcher: a fresh read-only root holding only the policy's
 * roots (readable ones read-only, writable ones read-write), denied paths covered by empty
 * read-only mounts, a `/proc` with only the launcher's own pid, and a minimal `/dev`.
 *
 * Everything here runs on the calling thread after `unshare(CLONE_NEWNS)`: the mounts live in a
 * namespace only this thread (and, after `execve`, the sandboxed image) sees, and `/` is made
 * private first so nothing propagates back to the host.
 */
import type { LauncherProcess } from "../runtime/mod.ts";
import { AT_FDCWD } from "./landlock.ts";
import { openFlags } from "./open_flags.ts";
import { type InnerMount, InnerMounts, RootReplaced } from "./inner_mounts.ts";
import { confineKernelMounts, kernelMountActions, parseMountInfo } from "./kernel_mounts.ts";
import { boundSockets, coverHostSockets } from "./host_sockets.ts";
import { socketsHeldBySandboxes } from "./sandbox_sockets.ts";
import { unixSocketTable } from "./unix_diag.ts";
import { type Sys, SyscallError } from "./sys.ts";
import { sandboxMountSource } from "./sandbox_label.ts";

const MS_RDONLY = 1n;
const MS_NOSUID = 2n;
const MS_NODEV = 4n;
const MS_BIND = 4096n;
const MS_REC = 16384n;
const MS_PRIVATE = 1n << 18n;
const MNT_DETACH = 2n;
const CLONE_NEWNS = 0x00020000n;
const MOUNT_ATTR_RDONLY = 0x1n;
const MOUNT_ATTR_NOSUID = 0x2n;
const MOUNT_ATTR_NODEV = 0x4n;
const MOUNT_ATTR_NOEXEC = 0x8n;
const AT_RECURSIVE = 0x8000n;
const ENOENT = 2;
const EEXIST = 17;
/** How often a root the host keeps replacing is looked up and bound before the launch fails. */
const ROOT_ATTEMPTS = 16;

/** The devices every sandbox gets in its `/dev`. */
export const SANDBOX_DEVICES: readonly string[] = ["null", "zero", "full", "random", "urandom", "tty"];

const BASE = "/tmp";
const NEW_ROOT = "/newroot";
const OLD_ROOT = "/oldroot";

/** What the mount namespace shows; paths are absolute host paths. */
export interface MountPlan {
  /** Shown read-only (with their submounts). */
  readonly readable: readonly string[];
  /** Shown read-write. */
  readonly writable: readonly string[];
  /** Shown read-only even inside a writable root. */
  readonly readOnly: readonly string[];
  /** Covered by an empty read-only file or directory. */
  readonly denied: readonly string[];
  /** Areas a sandbox could write: a root looked up through a symlink inside one is refused. */
  readonly noLinksIn: readonly string[];
  /** The launcher's pid: `/proc/<pid>` is the only process shown. */
  readonly pid: number;
  /** The launcher's start time (clock ticks after boot), which names the launch with `pid`. */
  readonly startTime: string | null;
}

/** A root bound by its host path: one that lies in no area the sandbox can change. */
interface MountOp {
  readonly kind: "bind";
  /** The host path (symlinks resolved). */
  readonly path: string;
  /** The path as the plan names it. */
  readonly given: string;
  readonly writable: boolean;
  readonly directory: boolean;
  /** What the path was when it was looked up: the bind must show exactly that. */
  readonly identity: string;
}

/** How the host's paths are looked up before the namespace exists. */
export type HostFiles = Pick<LauncherProcess, "lstat" | "readlink" | "readDir" | "readText">;

/** A resolved path: its real location and the symlinks met on the way. */
interface Resolved {
  readonly real: string;
  readonly directory: boolean;
  /** What `real` was when it was looked up (`LinkStat.identity`). */
  readonly identity: string;
  readonly links: readonly { readonly at: string; readonly target: string }[];
}

/**
 * Resolves `path` on the host component by component, recording every symlink met so the same
 * links can be recreated in the new root. Returns null when the path does not exist; throws when
 * it passes through a symlink inside one of `noLinksIn` (sandboxed code may have planted it).
 */
function resolveHostPath(
  files: Pick<HostFiles, "lstat" | "readlink">,
  path: string,
  noLinksIn: readonly string[],
): Resolved | null {
  const links: { at: string; target: string }[] = [];
  let pending = path.split("/").filter((part) => part !== "");
  let current = "";
  let hops = 0;
  while (pending.length > 0) {
    const [head, ...rest] = pending;
    pending = rest;
    if (head === undefined || head === ".") continue;
    if (head === "..") {
      current = current.slice(0, current.lastIndexOf("/"));
      continue;
    }
    const next = `${current}/${head}`;
    let stat;
    try {
      stat = files.lstat(next);
    } catch {
      // A missing component means there is nothing to show at this path.
      return null;
    }
    if (stat.symlink) {
      const area = noLinksIn.find((candidate) => next.startsWith(`${candidate}/`));
      if (area !== undefined) {
        throw new Error(
          `${path} passes through the symbolic link ${next}, inside ${area}, which a sandbox could write`,
        );
      }
      if (++hops > 40) return null;
      const target = files.readlink(next);
      links.push({ at: next, target });
      pending = [...target.split("/").filter((part) => part !== ""), ...pending];
      if (target.startsWith("/")) current = "";
      continue;
    }
    current = next;
  }
  const real = current === "" ? "/" : current;
  let found;
  try {
    found = files.lstat(real);
  } catch {
    return null;
  }
  return { real, directory: found.directory, identity: found.identity, links };
}

/** Builds the namespace and moves the calling thread into it; `cwd` is entered at the end. */
export function enterMountNamespace(
  sys: Sys,
  plan: MountPlan,
  options: { cwd: string; files: HostFiles },
): void {
  const ops: MountOp[] = [];
  const inner: InnerMount[] = [];
  const links: { at: string; target: string }[] = [];
  // What the sandbox can change: inside a writable root, or under a denied path (whose cover may
  // hold roots). Mounts there are resolved from their enclosing mount, never by host path.
  const changeable = (path: string): boolean =>
    [...plan.writable, ...plan.denied].some((area) =>
      area === "/" ? path !== "/" : path.startsWith(`${area}/`)
    );
  const skip = (path: string): boolean =>
    path === "/proc" || path.startsWith("/proc/") || path.startsWith("/dev/");
  const root = (given: string, writable: boolean): void => {
    if (skip(given)) return;
    if (changeable(given)) {
      inner.push({ path: given, kind: writable ? "writable" : "readOnly" });
      return;
    }
    const resolved = resolveHostPath(options.files, given, plan.noLinksIn);
    if (resolved === null) return;
    links.push(...resolved.links);
    ops.push({
      kind: "bind",
      path: resolved.real,
      given,
      writable,
      directory: resolved.directory,
      identity: resolved.identity,
    });
  };
  for (const path of plan.readable) root(path, false);
  for (const path of plan.writable) root(path, true);
  for (const path of plan.readOnly) inner.push({ path, kind: "readOnly" });
  for (const path of plan.denied) inner.push({ path, kind: "hide" });
  const ordered = orderOps(ops);
  const depth = (path: string): number => path.split("/").length;
  inner.sort((a, b) => depth(a.path) - depth(b.path) || (a.kind === "hide" ? -1 : 1));

  const flags = openFlags(sys.libc.arch);
  const mount = (
    source: string | null,
    target: string,
    fstype: string | null,
    mountFlags: bigint,
    data: string | null,
  ) =>
    sys.call("mount", [
      source === null ? 0n : sys.cString(source),
      sys.cString(target),
      fstype === null ? 0n : sys.cString(fstype),
      mountFlags,
      data === null ? 0n : sys.cString(data),
    ], target);
  const setAttr = (target: string, set: bigint, recursive: boolean) => {
    const attr = new Uint8Array(32);
    new DataView(attr.buffer).setBigUint64(0, set, true);
    sys.call("mount_setattr", [
      AT_FDCWD,
      sys.cString(target),
      recursive ? AT_RECURSIVE : 0n,
      sys.buffer(attr),
      32n,
    ], target);
  };
  /** Opens `path` itself (no follow) and closes it again: 0 when it exists, else `-errno`. */
  const look = (path: string): bigint => {
    const fd = sys.try("openat", [
      AT_FDCWD,
      sys.cString(path),
      flags.O_PATH | flags.O_NOFOLLOW | flags.O_CLOEXEC,
    ]);
    if (fd < 0n) return fd;
    sys.try("close", [fd]);
    return 0n;
  };
  const exists = (path: string): boolean => {
    const found = look(path);
    if (found === 0n) return true;
    if (found === -BigInt(ENOENT)) return false;
    throw new SyscallError("openat", Number(-found), path);
  };
  /**
   * Whether a failed call that may fail with EEXIST did so. Where the raw system call cannot be
   * mapped (`raw_syscall.ts`: not x86-64, or refused), the errno it reports is not enough: the
   * runtime reads it from the C library after the call returns to JavaScript, and under Bun a
   * garbage collection in between can overwrite it (an EEXIST of mkdirat read as ENOENT, at
   * almost every launch with BUN_JSC_collectContinuously=1). So a path that exists now is taken
   * as the EEXIST it was: nothing else in this namespace creates paths meanwhile.
   */
  const existed = (result: bigint, path: string): boolean => result === -BigInt(EEXIST) || look(path) === 0n;
  const mkdirs = (path: string): void => {
    let current = "";
    for (const part of path.split("/").filter((p) => p !== "")) {
      current += `/${part}`;
      const result = sys.try("mkdirat", [AT_FDCWD, sys.cString(current), 0o755n]);
      if (result < 0n && !existed(result, current)) {
        throw new SyscallError("mkdirat", Number(-result), current);
      }
    }
  };
  const touch = (path: string): void => {
    const parent = path.slice(0, path.lastIndexOf("/"));
    if (parent !== "") mkdirs(parent);
    const fd = sys.call("openat", [
      AT_FDCWD,
      sys.cString(path),
      flags.O_CREAT | flags.O_WRONLY | flags.O_CLOEXEC,
      0o444n,
    ], path);
    sys.try("close", [fd]);
  };
  const mountpoint = (path: string, directory: boolean): void => {
    if (exists(path)) return;
    if (directory) mkdirs(path);
    else touch(path);
  };
  const symlink = (target: string, at: string): void => {
    const parent = at.slice(0, at.lastIndexOf("/"));
    if (parent !== "") mkdirs(parent);
    const result = sys.try("symlinkat", [sys.cString(target), AT_FDCWD, sys.cString(at)]);
    if (result < 0n && !existed(result, at)) throw new SyscallError("symlinkat", Number(-result), at);
  };

  // Unprivileged, the launcher already runs in a user namespace made by a single-threaded helper
  // (a multi-threaded runtime cannot make one): its capabilities there allow this.
  sys.call("unshare", [CLONE_NEWNS]);
  // Private first: no mount made below may propagate to the host's namespace.
  mount(null, "/", null, MS_REC | MS_PRIVATE, null);
  mount("tmpfs", BASE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m");
  sys.call("chdir", [sys.cString(BASE)]);
  mkdirs(`${BASE}${NEW_ROOT}`);
  mkdirs(`${BASE}${OLD_ROOT}`);
  sys.call("pivot_root", [sys.cString("."), sys.cString(`.${OLD_ROOT}`)], "base");
  sys.call("chdir", [sys.cString("/")]);
  mount(
    sandboxMountSource(plan.pid, plan.startTime),
    NEW_ROOT,
    "tmpfs",
    MS_NOSUID | MS_NODEV,
    "mode=0755,size=1m",
  );
  const readOnlyLater: string[] = [NEW_ROOT];

  const innerMounts = new InnerMounts(sys, "");
  // The host's files, as the launcher reaches them once the roots are being bound.
  const hostFiles: Pick<HostFiles, "lstat" | "readlink"> = {
    lstat: (path) => options.files.lstat(`${OLD_ROOT}${path}`),
    readlink: (path) => options.files.readlink(`${OLD_ROOT}${path}`),
  };
  for (const first of ordered) {
    let op = first;
    for (let attempt = 1;; attempt++) {
      const target = op.path === "/" ? NEW_ROOT : `${NEW_ROOT}${op.path}`;
      const source = `${OLD_ROOT}${op.path === "/" ? "" : op.path}`;
      try {
        innerMounts.bindRoot({
          path: op.given,
          hostPath: source,
          treePath: target,
          writable: op.writable,
          directory: op.directory,
          // A sandbox that can write a directory on the way may have changed it since the lookup
          // checked it (a rename swapping a directory for a link, or for another directory): what
          // is mounted must be what was checked.
          verify: () => {
            if (options.files.lstat(target).identity !== op.identity) throw new RootReplaced(op.given);
          },
          procSelf: `${OLD_ROOT}/proc/self`,
        });
        break;
      } catch (error) {
        const replaced = error instanceof RootReplaced ||
          (error instanceof SyscallError && error.call === "move_mount" && error.errno === ENOENT);
        if (!replaced || attempt === ROOT_ATTEMPTS) throw error;
        // The host saves files by renaming a new one over the old (`git config`, editors): a root
        // replaced so since its lookup is looked up again, as checked as the first time, and bound
        // again (on top of the stale bind, if one was made). One that is gone now, lies elsewhere
        // or is of another type is not what the plan ordered: the launch fails then.
        const again = resolveHostPath(hostFiles, op.given, plan.noLinksIn);
        if (again === null || again.real !== op.path || again.directory !== op.directory) throw error;
        op = { ...op, identity: again.identity };
      }
    }
  }
  for (const link of links) {
    const at = `${NEW_ROOT}${link.at}`;
    if (!exists(at)) symlink(link.target, at);
  }
  for (const mountInside of inner) innerMounts.mount(mountInside);
  innerMounts.finish();
  const mounts = parseMountInfo(options.files.readText(`${OLD_ROOT}/proc/self/mountinfo`));
  // A user the namespace does not map shows as the overflow uid, outside every range of the map.
  const userRanges = options.files.readText(`${OLD_ROOT}/proc/self/uid_map`).trim().split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number));
  const mappedUser = (uid: number): boolean =>
    userRanges.some(([inside = 0, , count = 0]) => uid >= inside && uid < inside + count);
  // Only a sandbox that is not root holds no capability: a root one keeps CAP_SETUID and
  // CAP_SETGID, and in a namespace that maps more than its own ids (a container's root) it becomes
  // the owner, or joins the group, of a directory its launcher (as root) could not search.
  const unprivileged = sys.try("getuid", []) !== 0n &&
    (userRanges.length !== 1 || userRanges[0]?.join(" ") !== "0 0 4294967295");
  confineKernelMounts(sys, kernelMountActions(mounts, NEW_ROOT), {
    hostPath: (path) => path.slice(NEW_ROOT.length) || "/",
    cover: "/.kernel-cover",
    // Below a directory the launcher cannot search (one of a user it does not map, to an
    // unprivileged server: a container runtime's root-only tree), the sandbox, which runs as the
    // same user with no more capabilities, cannot reach the mount either. In an unprivileged
    // launcher's user namespace the sandbox holds no capability and may re-mode only its own
    // user's directories: one whose owner the namespace does not map, or whose owner may search it
    // (so the launcher, refused, is not its owner: a server running as nobody cannot tell its own
    // uid from the overflow uid), stays shut to it, and renaming it carries the mount along inside. Elsewhere the mount is left only
    // when nothing on the way lies where a sandbox of this server could change it.
    mayLeaveUnsearchable: (hostPath, blocking) =>
      (unprivileged && blocking !== null &&
        (!mappedUser(blocking.owner) || (blocking.mode & 0o100) !== 0)) ||
      (!changeable(hostPath) &&
        !plan.noLinksIn.some((area) => area === "/" || hostPath === area || hostPath.startsWith(`${area}/`))),
  });
  // The kernel's own table, names whole; its text where the kernel refuses the netlink socket.
  // Both answer for the launcher's network namespace, the server's (`unix_diag.ts`).
  const sockets = unixSocketTable(sys) ?? boundSockets(options.files.readText(`${OLD_ROOT}/proc/net/unix`));
  coverHostSockets(sys, sockets, {
    host: OLD_ROOT,
    under: NEW_ROOT,
    mounts,
    cover: "/.socket-cover",
    directoryCover: "/.socket-directory-cover",
    areas: plan.noLinksIn,
    keep: [...plan.readable, ...plan.writable, ...plan.readOnly, ...plan.denied, options.cwd],
    heldBySandboxes: () => socketsHeldBySandboxes(options.files, `${OLD_ROOT}/proc`),
  });

  // A /proc that shows only this process (its pid survives execve).
  const proc = `${NEW_ROOT}/proc`;
  mountpoint(proc, true);
  mount("tmpfs", proc, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0555,size=4k");
  readOnlyLater.push(proc);
  mkdirs(`${proc}/${plan.pid}`);
  mount(`${OLD_ROOT}/proc/${plan.pid}`, `${proc}/${plan.pid}`, null, MS_BIND, null);
  setAttr(
    `${proc}/${plan.pid}`,
    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
    false,
  );
  symlink(String(plan.pid), `${proc}/self`);
  symlink(String(plan.pid), `${proc}/thread-self`);
  symlink("self/mounts", `${proc}/mounts`);

  // A /dev with the few devices programs need, bound from the host so they stay real devices.
  const dev = `${NEW_ROOT}/dev`;
  mountpoint(dev, true);
  mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4k");
  readOnlyLater.push(dev);
  for (const name of SANDBOX_DEVICES) {
    if (!exists(`${OLD_ROOT}/dev/${name}`)) continue;
    touch(`${dev}/${name}`);
    mount(`${OLD_ROOT}/dev/${name}`, `${dev}/${name}`, null, MS_BIND, null);
    setAttr(`${dev}/${name}`, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
  }
  symlink("/proc/self/fd", `${dev}/fd`);
  symlink("/proc/self/fd/0", `${dev}/stdin`);
  symlink("/proc/self/fd/1", `${dev}/stdout`);
  symlink("/proc/self/fd/2", `${dev}/stderr`);

  for (const path of readOnlyLater.reverse()) {
    setAttr(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false);
  }

  sys.call("umount2", [sys.cString(OLD_ROOT), MNT_DETACH], OLD_ROOT);
  sys.call("chdir", [sys.cString(NEW_ROOT)]);
  sys.call("pivot_root", [sys.cString("."), sys.cString(".")], "new root");
  sys.call("umount2", [sys.cString("."), MNT_DETACH], "base");
  sys.call("chdir", [sys.cString("/")]);
  try {
    sys.call("chdir", [sys.cString(options.cwd)]);
  } catch (error) {
    throw new Error(`cwd ${options.cwd} is not visible in the sandbox`, { cause: error });
  }
}

/** Parents before children, so a nested root is mounted on top of the one that contains it. */
function orderOps(ops: readonly MountOp[]): MountOp[] {
  const byPath = new Map<string, MountOp>();
  for (const op of ops) {
    // On the same path a writable bind beats a read-only one.
    const previous = byPath.get(op.path);
    if (previous === undefined || (op.writable && !previous.writable)) byPath.set(op.path, op);
  }
  const depth = (path: string): number => (path === "/" ? 0 : path.split("/").length - 1);
  const sorted = [...byPath.values()].sort((a, b) =>
    depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : 1)
  );
  const kept: MountOp[] = [];
  for (const op of sorted) {
    const within = (root: string): boolean => root === "/" || op.path.startsWith(root + "/");
    const enclosing = kept.findLast((other) => within(other.path));
    // A bind inside a bind of the same kind shows nothing new.
    if (enclosing?.writable === op.writable) continue;
    kept.push(op);
  }
  return kept;
}

/** `MS_*` and attribute values, exported for the probe. */
export const MOUNT_FLAGS = {
  MS_REC,
  MS_PRIVATE,
  MS_NOSUID,
  MS_NODEV,
  MS_RDONLY,
  CLONE_NEWNS,
} as const;
