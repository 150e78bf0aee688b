/**
 * Kernel-interface mounts under the new root: file systems that are interfaces to the kernel
 * rather than storage, which a root shows when a host mounted one inside it (`/` holds `/sys`; a
 * chroot in a workspace has its own `proc`, or the host's `/dev` bound in with `/dev/mqueue`).
 * Writing one reaches the host (a cgroup's `cgroup.kill`, a sysctl, a trace point), so each is made
 * read-only; a `proc` or `mqueue` one is covered with an empty read-only directory instead, since
 * reading it is enough to reach the host: a host `/proc` lists every process, and a queue opened
 * for reading is received from.
 *
 * They are found in the launcher's mount table, but acted on through a descriptor opened without
 * following any symbolic link and checked to be the very mount the table names (its mount ID, at
 * its root): a sandbox that may write a directory on the way can rename it between the read and the
 * act, and by path the act then fell on whatever mount the new name led to, leaving the kernel's
 * file system writable at its new name. Such a change fails the launch.
 */
import { AT_FDCWD } from "./landlock.ts";
import { coverWithClone, lockDown } from "./mount_cover.ts";
import { openFlags } from "./open_flags.ts";
import type { Sys } from "./sys.ts";

/** Kernel interfaces whose writes reach the host: shown read-only. */
const READ_ONLY_TYPES: ReadonlySet<string> = new Set([
  "sysfs",
  "cgroup",
  "cgroup2",
  "securityfs",
  "debugfs",
  "tracefs",
  "configfs",
  "bpf",
  "pstore",
  "efivarfs",
  "fusectl",
  "binfmt_misc",
  "selinuxfs",
  "devtmpfs",
  "rpc_pipefs",
  "nfsd",
  "resctrl",
]);

/** Kernel interfaces whose reads reach the host too: covered. */
const HIDDEN_TYPES: ReadonlySet<string> = new Set(["proc", "mqueue"]);

/** One line of `/proc/<pid>/mountinfo`. */
export interface MountEntry {
  readonly id: number;
  readonly parent: number;
  /** Its file system's device (`major:minor`) and the directory of it that it shows. */
  readonly device: string;
  readonly root: string;
  readonly mountPoint: string;
  readonly type: string;
  /** Whether the mount itself is read-only (its per-mount options). */
  readonly readOnly: boolean;
}

/** What is done to one kernel-interface mount. */
export interface KernelMountAction {
  readonly id: number;
  readonly path: string;
  readonly action: "readOnly" | "hide";
}

/** The mounts of a `mountinfo` text. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const [before, after] = line.split(" - ");
    const fields = before?.split(" ") ?? [];
    const [id, parent, device, root, mountPoint, options] = fields;
    const type = after?.split(" ")[0];
    if (
      id === undefined || parent === undefined || device === undefined || root === undefined ||
      mountPoint === undefined || type === undefined
    ) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const unescape = (field: string): string =>
      field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
    entries.push({
      id: Number(id),
      parent: Number(parent),
      device,
      root: unescape(root),
      mountPoint: unescape(mountPoint),
      type,
      readOnly: (options ?? "").split(",").includes("ro"),
    });
  }
  return entries;
}

/**
 * The kernel-interface mounts at or below `under` that its paths reach, with what each needs: one
 * already read-only needs nothing unless it is covered, and one beneath a covered one is covered
 * with it. A mount that another one hides (stacked on it, or mounted on the way to it, as a
 * carve-out's copy of a tree is) is not reached by its path and is left alone: its copy, a mount
 * of its own in the table, is what the path shows.
 */
export function kernelMountActions(entries: readonly MountEntry[], under: string): KernelMountAction[] {
  const byId = new Map(entries.map((entry) => [entry.id, entry]));
  const children = new Map<number, MountEntry[]>();
  for (const entry of entries) {
    const list = children.get(entry.parent) ?? [];
    list.push(entry);
    children.set(entry.parent, list);
  }
  const within = (path: string, area: string): boolean =>
    path === area || path.startsWith(area === "/" ? "/" : `${area}/`);
  const reached = new Map<number, boolean>();
  const reachable = (entry: MountEntry, depth: number): boolean => {
    const known = reached.get(entry.id);
    if (known !== undefined) return known;
    let result = within(entry.mountPoint, under) && depth < 4096 &&
      !(children.get(entry.id) ?? []).some((child) => child.mountPoint === entry.mountPoint) &&
      !(children.get(entry.parent) ?? []).some((sibling) =>
        sibling !== entry && sibling.mountPoint !== entry.mountPoint &&
        within(entry.mountPoint, sibling.mountPoint)
      );
    if (result && entry.mountPoint !== under) {
      const parent = byId.get(entry.parent);
      result = parent !== undefined && parent !== entry && reachable(parent, depth + 1);
    }
    reached.set(entry.id, result);
    return result;
  };
  const kernel = entries.filter((entry) =>
    (READ_ONLY_TYPES.has(entry.type) || HIDDEN_TYPES.has(entry.type)) && reachable(entry, 0)
  );
  const hidden = kernel.filter((entry) => HIDDEN_TYPES.has(entry.type));
  const actions: KernelMountAction[] = [];
  for (const entry of kernel) {
    const hide = HIDDEN_TYPES.has(entry.type);
    const beneathHidden = hidden.some((other) =>
      other !== entry && within(entry.mountPoint, other.mountPoint)
    );
    if (beneathHidden || (!hide && entry.readOnly)) continue;
    actions.push({ id: entry.id, path: entry.mountPoint, action: hide ? "hide" : "readOnly" });
  }
  // Read-only ones first: a cover made first could sit on the way to one.
  return actions.sort((a, b) => (a.action === b.action ? 0 : a.action === "readOnly" ? -1 : 1));
}

const RESOLVE_NO_MAGICLINKS = 0x02n;
const RESOLVE_NO_SYMLINKS = 0x04n;
const AT_EMPTY_PATH = 0x1000n;
const AT_SYMLINK_NOFOLLOW = 0x100n;
const STATX_MNT_ID = 0x1000;
const STATX_MODE = 0x2;
const STATX_UID = 0x8;
const EACCES = 13n;
const STATX_ATTR_MOUNT_ROOT = 0x2000n;

/**
 * Applies `actions` (from `kernelMountActions`) in the launcher's namespace; `hostPath` names a
 * mount's path for messages, and `cover` is a path where an empty directory for covers may be made.
 */
export function confineKernelMounts(
  sys: Sys,
  actions: readonly KernelMountAction[],
  options: {
    hostPath: (path: string) => string;
    cover: string;
    /**
     * Whether a mount below a directory the launcher cannot search may be left as it is; `blocking`
     * is that directory's owner (as the launcher's namespace sees it) and mode, null when not found.
     */
    mayLeaveUnsearchable: (hostPath: string, blocking: UnsearchableDirectory | null) => boolean;
  },
): void {
  if (actions.length === 0) return;
  const flags = openFlags(sys.libc.arch);
  const opened: bigint[] = [];
  let coverFd: bigint | null = null;
  try {
    for (const { id, path, action } of actions) {
      const changed = () => new Error(`${options.hostPath(path)} changed while the sandbox was being built`);
      const how = new Uint8Array(24);
      const view = new DataView(how.buffer);
      view.setBigUint64(0, flags.O_PATH | flags.O_CLOEXEC, true);
      view.setBigUint64(16, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, true);
      const fd = sys.try("openat2", [AT_FDCWD, sys.cString(path), sys.buffer(how), 24n]);
      if (fd === -EACCES) {
        if (options.mayLeaveUnsearchable(options.hostPath(path), unsearchableDirectory(sys, path))) continue;
        throw new Error(
          `${options.hostPath(path)}, a kernel interface, lies below a directory the launcher cannot ` +
            "search, where a sandbox could change the way to it: it cannot be made read-only",
        );
      }
      if (fd < 0n) throw changed();
      opened.push(fd);
      const statx = new Uint8Array(256);
      sys.call("statx", [
        fd,
        sys.cString(""),
        AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
        BigInt(STATX_MNT_ID),
        sys.buffer(statx),
      ], path);
      const stat = new DataView(statx.buffer);
      const mountId = (stat.getUint32(0, true) & STATX_MNT_ID) === 0 ? -1n : stat.getBigUint64(144, true);
      const atRoot = (stat.getBigUint64(8, true) & STATX_ATTR_MOUNT_ROOT) !== 0n;
      if (mountId !== BigInt(id) || !atRoot) throw changed();
      if (action === "readOnly") {
        lockDown(sys, fd);
        continue;
      }
      if (coverFd === null) {
        sys.call("mkdirat", [AT_FDCWD, sys.cString(options.cover), 0o555n], options.cover);
        coverFd = sys.call("openat", [
          AT_FDCWD,
          sys.cString(options.cover),
          flags.O_PATH | flags.O_CLOEXEC | flags.O_DIRECTORY,
        ], options.cover);
        opened.push(coverFd);
      }
      coverWithClone(sys, coverFd, fd, path);
    }
  } finally {
    for (const fd of opened) sys.try("close", [fd]);
  }
}

/** The first directory on the way to a path that the launcher cannot search. */
export interface UnsearchableDirectory {
  /** Its owner as the launcher's namespace sees it: the overflow uid where the namespace maps none. */
  readonly owner: number;
  readonly mode: number;
}

/**
 * The first directory on the way to `path` that the launcher cannot search; null when the walk
 * meets anything else (a link, a missing name).
 */
function unsearchableDirectory(sys: Sys, path: string): UnsearchableDirectory | null {
  const flags = openFlags(sys.libc.arch);
  const how = new Uint8Array(24);
  const view = new DataView(how.buffer);
  view.setBigUint64(0, flags.O_PATH | flags.O_CLOEXEC, true);
  view.setBigUint64(16, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, true);
  let current = sys.try("openat2", [AT_FDCWD, sys.cString("/"), sys.buffer(how), 24n]);
  if (current < 0n) return null;
  try {
    for (const part of path.split("/").filter((name) => name !== "")) {
      const next = sys.try("openat2", [current, sys.cString(part), sys.buffer(how), 24n]);
      if (next === -EACCES) {
        const statx = new Uint8Array(256);
        const mask = BigInt(STATX_MODE | STATX_UID);
        if (sys.try("statx", [current, sys.cString(""), AT_EMPTY_PATH, mask, sys.buffer(statx)]) < 0n) {
          return null;
        }
        const stat = new DataView(statx.buffer);
        return { owner: stat.getUint32(20, true), mode: stat.getUint16(28, true) & 0o7777 };
      }
      if (next < 0n) return null;
      sys.try("close", [current]);
      current = next;
    }
    return null;
  } finally {
    sys.try("close", [current]);
  }
}
