/**
 * Mounts inside areas the sandbox can change: read-only and denied carve-outs, and roots that lie
 * in a writable root or under a denied path. Sandboxed code may have renamed, replaced or
 * symlinked anything there before this launch (and other sandboxes may race it), so nothing is
 * found by following a path on the host: each one is resolved from its enclosing mount beneath
 * it, component by component, without following any symbolic link (`openat2` with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), and mounted onto the descriptor that resolution
 * returned. A carve-out that meets a symlink or a missing component has nothing of the host to
 * protect at that name and is skipped: the symlink then leads only within the sandbox's own view.
 *
 * Each directory between the enclosing writable root and a carve-out is bound onto itself, so
 * that inside the sandbox it is a mount point: renaming or removing it fails with EBUSY, and no
 * `mv sub sub2` moves a protected file away from the name a later launch covers.
 */
import { AT_FDCWD } from "./landlock.ts";
import { openFlags } from "./open_flags.ts";
import { type Sys, SyscallError } from "./sys.ts";

/** One mount the sandbox's own writes could otherwise redirect. */
export interface InnerMount {
  /** The host path as the policy names it; it lies strictly inside `enclosing`. */
  readonly path: string;
  readonly kind: "readOnly" | "writable" | "hide";
}

/** Where an enclosing mount is: its descriptors on the host side and in the new tree. */
interface Enclosing {
  readonly path: string;
  /** The host's object, beneath which sources are resolved. */
  readonly hostFd: bigint;
  /** The same place in the new tree, beneath which targets are resolved (or made, in a cover). */
  readonly treeFd: bigint;
  /** A cover (an empty directory over a denied path): missing mount points are made in it. */
  readonly cover: boolean;
  /** Whether the sandbox can write here: its directories are pinned as mount points. */
  readonly writable: boolean;
}

const RESOLVE_NO_MAGICLINKS = 0x02n;
const RESOLVE_NO_SYMLINKS = 0x04n;
const RESOLVE_BENEATH = 0x08n;
const OPEN_TREE_CLONE = 1n;
const AT_EMPTY_PATH = 0x1000n;
const AT_RECURSIVE = 0x8000n;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4n;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40n;
const MNT_DETACH = 2n;
const MOUNT_ATTR_RDONLY = 0x1n;
const MOUNT_ATTR_NOSUID = 0x2n;
const MOUNT_ATTR_NODEV = 0x4n;
const MOUNT_ATTR_NOEXEC = 0x8n;
const STATX_TYPE = 1n;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const ENOENT = 2;
const ENOTDIR = 20;
const EXDEV = 18;
const ELOOP = 40;
/** How many times a carve-out whose name was removed under its mount is resolved and mounted again. */
const MOUNT_TRIES = 16;

/** A root that is no longer the file its lookup checked (`InnerMounts.bindRoot`). */
export class RootReplaced extends Error {
  constructor(path: string) {
    super(`${path} changed while the sandbox was being built`);
    this.name = "RootReplaced";
  }
}

/** Answers of a resolution that mean "nothing of the host here": missing, a symlink, leading out. */
const NOTHING_HERE = new Set([ENOENT, ENOTDIR, EXDEV, ELOOP]);

/**
 * Performs `mounts` (shallowest first). `roots` are the mounts already made by path: each root's
 * host path and the path of its bind in the new tree. `base` is a writable scratch directory of
 * the launcher (for empty covers). Returns the covers to make read-only once everything is in.
 */
export class InnerMounts {
  readonly #sys: Sys;
  readonly #flags: ReturnType<typeof openFlags>;
  readonly #base: string;
  readonly #enclosing: Enclosing[] = [];
  /** Directories already pinned as mount points, by host path, with their new tree descriptor. */
  readonly #pinned = new Map<string, bigint>();
  readonly #covers: bigint[] = [];
  readonly #fds: bigint[] = [];
  #emptyFile: string | null = null;
  #coverCount = 0;

  constructor(sys: Sys, base: string) {
    this.#sys = sys;
    this.#flags = openFlags(sys.libc.arch);
    this.#base = base;
  }

  /**
   * Binds a root looked up on the host: `hostPath`, its real path (no symlink on the way), onto
   * `treePath`, through one descriptor of it. The same descriptor stays what the root's carve-outs
   * are resolved beneath: opened again by path after the bind, a sandbox that may write the root's
   * parent could have renamed a link in at that name meanwhile, and the carve-outs would then be
   * taken from wherever the link leads (or skipped). `verify` runs once the bind is in place and
   * throws when it shows anything else than the lookup found. A root gone from `hostPath`, or no
   * longer what the lookup found, throws `RootReplaced` (or a `move_mount` ENOENT, when it went
   * between its opening and its bind).
   */
  bindRoot(options: {
    path: string;
    hostPath: string;
    treePath: string;
    writable: boolean;
    directory: boolean;
    verify: () => void;
    /** The launcher's `/proc/self`, through which a bind that fails `verify` is taken off. */
    procSelf: string;
  }): void {
    const hostFd = this.#openat2(
      AT_FDCWD,
      options.hostPath,
      this.#flags.O_PATH | this.#flags.O_CLOEXEC,
      RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    );
    if (hostFd < 0n) {
      const errno = Number(-hostFd);
      if (NOTHING_HERE.has(errno)) {
        throw new RootReplaced(options.path);
      }
      throw new SyscallError("openat2", errno, options.hostPath);
    }
    this.#fds.push(hostFd);
    const tree = this.#clone(hostFd, true);
    this.#setAttributes(
      tree,
      (options.writable ? 0n : MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
      true,
    );
    const target = this.#mountPoint(options.path, options.treePath, options.directory);
    this.#sys.call("move_mount", [
      tree,
      this.#sys.cString(""),
      target,
      this.#sys.cString(""),
      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
    ], options.treePath);
    this.#sys.try("close", [target]);
    try {
      options.verify();
    } catch (error) {
      // The stale bind is taken off again (through its own descriptor, never a path): left, it
      // would hold the mount point, and a file root bound again there would go on a file gone.
      this.#sys.try("umount2", [this.#sys.cString(`${options.procSelf}/fd/${tree}`), MNT_DETACH]);
      throw error;
    }
    if (!options.directory) return;
    this.#enclosing.push({
      path: options.path,
      hostFd,
      treeFd: tree,
      cover: false,
      writable: options.writable,
    });
  }

  /**
   * Mounts one inner mount; a mount with nothing of the host behind its name is skipped. The kernel
   * refuses a mount on a name removed after it was resolved (ENOENT), and names go away while the
   * launcher works: an editor on the host saves a file by renaming a new one over it, and a sandbox
   * that may write the directory of another policy's carve-out can give the file a second name and
   * remove the first, then make it again, in a loop (`link`, `unlink`). So the carve-out is resolved
   * and mounted again from the start, what the name shows then being what is covered, a number of
   * times before the launch gives up; found missing then, it is skipped as any missing carve-out is.
   */
  mount(inner: InnerMount): void {
    for (let tries = 1;; tries++) {
      try {
        this.#mountOnce(inner);
        return;
      } catch (error) {
        const gone = error instanceof SyscallError && error.errno === ENOENT && error.call === "move_mount";
        if (!gone || tries >= MOUNT_TRIES) throw error;
      }
    }
  }

  #mountOnce(inner: InnerMount): void {
    const enclosing = this.#enclosingOf(inner.path);
    if (enclosing === null) return;
    const parts = inner.path.slice(enclosing.path === "/" ? 1 : enclosing.path.length + 1).split("/");
    const source = this.#resolve(enclosing.hostFd, parts.join("/"));
    if (source === null) return;
    const type = this.#type(source);
    if (type === S_IFLNK) return;
    const target = this.#target(enclosing, parts, type === S_IFDIR);
    if (target === null) return;
    let tree: bigint;
    switch (inner.kind) {
      case "readOnly":
      case "writable": {
        tree = this.#clone(source, true);
        const attributes = (inner.kind === "readOnly" ? MOUNT_ATTR_RDONLY : 0n) | MOUNT_ATTR_NOSUID |
          MOUNT_ATTR_NODEV;
        this.#setAttributes(tree, attributes, true);
        break;
      }
      case "hide":
        if (type === S_IFDIR) {
          // A writable empty directory for now: roots under a denied path need mount points in it.
          tree = this.#clone(this.#newEmptyDirectory(), false);
          this.#setAttributes(tree, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, false);
        } else {
          tree = this.#clone(this.#emptyFileFd(), false);
          this.#setAttributes(
            tree,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
            false,
          );
        }
        break;
      default: {
        const never: never = inner.kind;
        throw new TypeError(`unknown inner mount ${String(never)}`);
      }
    }
    this.#sys.call("move_mount", [
      tree,
      this.#sys.cString(""),
      target,
      this.#sys.cString(""),
      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
    ], inner.path);
    if (inner.kind === "hide" && type === S_IFDIR) this.#covers.push(tree);
    if (type === S_IFDIR) {
      this.#enclosing.push({
        path: inner.path,
        hostFd: source,
        treeFd: tree,
        cover: inner.kind === "hide",
        writable: inner.kind === "writable",
      });
    }
  }

  /** Makes the covers read-only (after the roots beneath them got their mount points). */
  finish(): void {
    for (const cover of this.#covers) this.#setAttributes(cover, MOUNT_ATTR_RDONLY, false);
    for (const fd of this.#fds) this.#sys.try("close", [fd]);
  }

  /** The deepest registered mount that contains `path` strictly. */
  #enclosingOf(path: string): Enclosing | null {
    let best: Enclosing | null = null;
    for (const candidate of this.#enclosing) {
      const inside = candidate.path === "/" ? path !== "/" : path.startsWith(`${candidate.path}/`);
      if (inside && (best === null || candidate.path.length > best.path.length)) best = candidate;
    }
    return best;
  }

  /**
   * The new tree's descriptor for `parts` beneath `enclosing`: every directory on the way in a
   * writable area is pinned as a mount point; in a cover, missing components are made.
   */
  #target(enclosing: Enclosing, parts: readonly string[], directory: boolean): bigint | null {
    let current = enclosing.treeFd;
    let hostPath = enclosing.path === "/" ? "" : enclosing.path;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? "";
      hostPath += `/${part}`;
      const last = i === parts.length - 1;
      if (!last && enclosing.writable) {
        const pinned = this.#pinned.get(hostPath);
        if (pinned !== undefined) {
          current = pinned;
          continue;
        }
      }
      let next = this.#resolve(current, part);
      if (next === null && enclosing.cover) {
        this.#makeIn(current, part, !last || directory);
        next = this.#resolve(current, part);
      }
      if (next === null) return null;
      if (!last && enclosing.writable) {
        const tree = this.#clone(next, true);
        this.#sys.call("move_mount", [
          tree,
          this.#sys.cString(""),
          next,
          this.#sys.cString(""),
          MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        ], hostPath);
        this.#pinned.set(hostPath, tree);
        next = tree;
      }
      current = next;
    }
    return current;
  }

  /**
   * The mount point of a root at `treePath` (absolute, in the launcher's root), made where it is
   * missing, found component by component without following any symbolic link. A root nested in
   * another one gets its mount point through the outer root's bind, whose directories a sandbox
   * that may write them can have replaced with links since the lookup: followed, a link there led
   * the making of the mount point (a directory, or an empty file) out of the new root onto any
   * place of the host. Such a link fails the launch instead.
   */
  #mountPoint(path: string, treePath: string, directory: boolean): bigint {
    const changed = () => new Error(`${path} changed while the sandbox was being built`);
    const parts = treePath.split("/").filter((part) => part !== "");
    // The walk's descriptors are closed as it goes, and the mount point's once the root is moved
    // there: kept to the end, they took a Deno launcher past 64 open descriptors, and the kernel
    // grows a descriptor table shared by threads only after an RCU grace period (about 12 ms of
    // every Deno sandboxed start).
    let current = this.#sys.try("openat", [
      AT_FDCWD,
      this.#sys.cString("/"),
      this.#flags.O_PATH | this.#flags.O_CLOEXEC | this.#flags.O_DIRECTORY,
    ]);
    if (current < 0n) throw changed();
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? "";
      const last = i === parts.length - 1;
      let next = this.#component(current, part, changed);
      if (next === null) {
        // What the making answers is not enough under Bun (see `existed` in mount_namespace.ts):
        // whether the name is there now says whether it worked.
        const made = !last || directory
          ? this.#sys.try("mkdirat", [current, this.#sys.cString(part), 0o755n])
          : this.#sys.try("openat", [
            current,
            this.#sys.cString(part),
            this.#flags.O_CREAT | this.#flags.O_WRONLY | this.#flags.O_NOFOLLOW | this.#flags.O_CLOEXEC,
            0o444n,
          ]);
        if (made >= 0n && last && !directory) this.#sys.try("close", [made]);
        next = this.#component(current, part, changed);
        if (next === null) {
          this.#sys.try("close", [current]);
          throw new SyscallError("mkdirat", made < 0n ? Number(-made) : ENOENT, treePath);
        }
      }
      this.#sys.try("close", [current]);
      current = next;
    }
    return current;
  }

  /**
   * One name in `dir`, never through a symbolic link (`changed` then); null when it is missing. The
   * caller closes the descriptor.
   */
  #component(dir: bigint, name: string, changed: () => Error): bigint | null {
    const fd = this.#openat2(
      dir,
      name,
      this.#flags.O_PATH | this.#flags.O_CLOEXEC,
      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    );
    if (fd === -BigInt(ENOENT)) return null;
    if (fd === -BigInt(ELOOP) || fd === -BigInt(EXDEV)) throw changed();
    if (fd < 0n) throw new SyscallError("openat2", Number(-fd), name);
    return fd;
  }

  /** `openat2(dir, path, O_PATH|O_NOFOLLOW, BENEATH|NO_SYMLINKS)`, or null when nothing is there. */
  #resolve(dir: bigint, path: string): bigint | null {
    const fd = this.#openat2(
      dir,
      path,
      this.#flags.O_PATH | this.#flags.O_NOFOLLOW | this.#flags.O_CLOEXEC,
      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    );
    if (fd < 0n) {
      const errno = Number(-fd);
      if (NOTHING_HERE.has(errno)) return null;
      throw new SyscallError("openat2", errno, path);
    }
    this.#fds.push(fd);
    return fd;
  }

  /** `openat2(dir, path, {flags, resolve})`: the new descriptor, or `-errno`. */
  #openat2(dir: bigint, path: string, flags: bigint, resolve: bigint): bigint {
    const how = new Uint8Array(24);
    const view = new DataView(how.buffer);
    view.setBigUint64(0, flags, true);
    view.setBigUint64(16, resolve, true);
    return this.#sys.try("openat2", [dir, this.#sys.cString(path), this.#sys.buffer(how), 24n]);
  }

  #openPath(path: string, directory: boolean): bigint | null {
    const flags = this.#flags.O_PATH | this.#flags.O_CLOEXEC | (directory ? this.#flags.O_DIRECTORY : 0n);
    const fd = this.#sys.try("openat", [AT_FDCWD, this.#sys.cString(path), flags]);
    if (fd < 0n) {
      if (NOTHING_HERE.has(Number(-fd))) return null;
      throw new SyscallError("openat", Number(-fd), path);
    }
    this.#fds.push(fd);
    return fd;
  }

  /** The file type bits of an open descriptor. */
  #type(fd: bigint): number {
    const buffer = new Uint8Array(256);
    this.#sys.call("statx", [fd, this.#sys.cString(""), AT_EMPTY_PATH, STATX_TYPE, this.#sys.buffer(buffer)]);
    return new DataView(buffer.buffer).getUint16(28, true) & S_IFMT;
  }

  #clone(fd: bigint, recursive: boolean): bigint {
    const flags = OPEN_TREE_CLONE | this.#flags.O_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0n);
    const tree = this.#sys.call("open_tree", [fd, this.#sys.cString(""), flags]);
    this.#fds.push(tree);
    return tree;
  }

  #setAttributes(tree: bigint, set: bigint, recursive: boolean): void {
    const attr = new Uint8Array(32);
    new DataView(attr.buffer).setBigUint64(0, set, true);
    this.#sys.call("mount_setattr", [
      tree,
      this.#sys.cString(""),
      AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0n),
      this.#sys.buffer(attr),
      32n,
    ]);
  }

  /** Makes an empty directory or file named `name` in the cover `dir`. */
  #makeIn(dir: bigint, name: string, directory: boolean): void {
    if (directory) {
      this.#sys.call("mkdirat", [dir, this.#sys.cString(name), 0o755n], name);
      return;
    }
    const fd = this.#sys.call("openat", [
      dir,
      this.#sys.cString(name),
      this.#flags.O_CREAT | this.#flags.O_WRONLY | this.#flags.O_CLOEXEC,
      0o444n,
    ], name);
    this.#sys.try("close", [fd]);
  }

  /** A fresh empty directory in the scratch base, for one cover. */
  #newEmptyDirectory(): bigint {
    const path = `${this.#base}/.cover-${++this.#coverCount}`;
    this.#sys.call("mkdirat", [AT_FDCWD, this.#sys.cString(path), 0o111n], path);
    const fd = this.#openPath(path, true);
    if (fd === null) throw new SyscallError("openat", ENOENT, path);
    return fd;
  }

  /** The scratch base's empty file (covers of denied files). */
  #emptyFileFd(): bigint {
    if (this.#emptyFile === null) {
      this.#emptyFile = `${this.#base}/.empty`;
      const fd = this.#sys.call("openat", [
        AT_FDCWD,
        this.#sys.cString(this.#emptyFile),
        this.#flags.O_CREAT | this.#flags.O_WRONLY | this.#flags.O_CLOEXEC,
        0o444n,
      ], this.#emptyFile);
      this.#sys.try("close", [fd]);
    }
    const fd = this.#openPath(this.#emptyFile, false);
    if (fd === null) throw new SyscallError("openat", ENOENT, this.#emptyFile);
    return fd;
  }
}
