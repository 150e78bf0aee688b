/**
 * Covers a path with a clone of an empty file or directory of the launcher's, locked read-only,
 * through descriptors only: the target was opened without following links and checked, and a path
 * looked up again could lead elsewhere.
 */
import { openFlags } from "./open_flags.ts";
import type { Sys } from "./sys.ts";

const OPEN_TREE_CLONE = 1n;
const AT_EMPTY_PATH = 0x1000n;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4n;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40n;
/** MOUNT_ATTR_RDONLY | NOSUID | NODEV | NOEXEC. */
export const LOCKED_DOWN = 0x1n | 0x2n | 0x4n | 0x8n;

/** Sets `LOCKED_DOWN` on the mount `fd` stands for; `path` names it in errors. */
export function lockDown(sys: Sys, fd: bigint, path?: string): void {
  const attr = new Uint8Array(32);
  new DataView(attr.buffer).setBigUint64(0, LOCKED_DOWN, true);
  sys.call("mount_setattr", [fd, sys.cString(""), AT_EMPTY_PATH, sys.buffer(attr), 32n], path);
}

/** Mounts a locked-down clone of `cover` (an `O_PATH` descriptor) on `target`; `path` names it in errors. */
export function coverWithClone(sys: Sys, cover: bigint, target: bigint, path: string): void {
  const flags = openFlags(sys.libc.arch);
  const tree = sys.call("open_tree", [
    cover,
    sys.cString(""),
    OPEN_TREE_CLONE | flags.O_CLOEXEC | AT_EMPTY_PATH,
  ], path);
  try {
    lockDown(sys, tree, path);
    sys.call("move_mount", [
      tree,
      sys.cString(""),
      target,
      sys.cString(""),
      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
    ], path);
  } finally {
    sys.try("close", [tree]);
  }
}
