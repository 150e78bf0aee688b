import { constants } from "node:fs";
import type { Stats } from "node:fs";
import * as fs from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { ErrorCode, RpcError } from "../protocol/mod.ts";
import { errnoError } from "./error_map.ts";

/** Linux `O_PATH`: a descriptor that names a file without opening it for I/O (no device side effects). */
export const O_PATH = 0o10000000;
/** Flags that keep a stray open of a FIFO or terminal from blocking or adopting it. */
export const O_NOBLOCK_NOCTTY: number = constants.O_NONBLOCK | constants.O_NOCTTY;

/** -32600 ``path `<native>` is not a file`` (PROTOCOL.md §7.3, §7.13). */
export function notAFile(path: string): RpcError {
  return new RpcError(ErrorCode.InvalidRequest, "InvalidInput", `path \`${path}\` is not a file`);
}

let procFdUsable: Promise<boolean> | null = null;

/** Whether `/proc/self/fd` can reopen descriptors here (it is missing where /proc is not mounted). */
export function reopenWorks(): Promise<boolean> {
  procFdUsable ??= fs.stat("/proc/self/fd").then((stat) => stat.isDirectory(), () => false);
  return procFdUsable;
}

/**
 * Opens `path` (symlinks followed, unless `noFollow`) with `flags` only if it is a regular file, else throws
 * ``path `<native>` is not a file``. The type is checked on an `O_PATH` descriptor that is then
 * reopened through `/proc/self/fd`, so the file checked is the file opened and a FIFO or device
 * swapped in is never opened for I/O. Without /proc: stat, open, verify with fstat.
 *
 * Always non-blocking, as the reference opens: a regular file may still block its reader
 * (`/proc/kmsg`, as root, until the kernel logs again), which held the request, every large reply
 * of its connection after it, and a thread of the runtime's pool (Deno has 32) for as long as
 * nothing came. Such a file answers EAGAIN now; a file on disk reads as before.
 */
export async function openRegular(
  path: string,
  flags: number,
  options: { noFollow?: boolean } = {},
): Promise<FileHandle> {
  return (await openRegularStat(path, flags, options)).handle;
}

/**
 * `openRegular`, with the opened file's stat: the one its type was checked by (the `O_PATH`
 * descriptor's, whose file the reopen opens), so the caller needs no `stat` of its own.
 */
export async function openRegularStat(
  path: string,
  flags: number,
  options: { noFollow?: boolean } = {},
): Promise<{ handle: FileHandle; stat: Stats }> {
  const noFollow = options.noFollow === true ? constants.O_NOFOLLOW : 0;
  if (await reopenWorks()) {
    // With O_NOFOLLOW, O_PATH opens a link itself, which the type check then refuses.
    const probe = await fs.open(path, O_PATH | noFollow);
    try {
      const stat = await probe.stat();
      if (!stat.isFile()) throw notAFile(path);
      return { handle: await fs.open(`/proc/self/fd/${probe.fd}`, flags | O_NOBLOCK_NOCTTY), stat };
    } finally {
      await probe.close();
    }
  }
  const stat = noFollow === 0 ? await fs.stat(path) : await fs.lstat(path);
  if (!stat.isFile()) throw notAFile(path);
  const handle = await fs.open(path, flags | O_NOBLOCK_NOCTTY | noFollow);
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw notAFile(path);
    return { handle, stat: opened };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Stats `path` through a descriptor, as the sandbox worker must (PROTOCOL.md §7.6): the type comes
 * from an `O_PATH` descriptor, and a file or directory is then really opened for reading so the
 * kernel's access rules decide whether it is visible.
 */
export async function statThroughOpen(path: string): Promise<Stats> {
  const probe = await fs.open(path, O_PATH);
  try {
    const stat = await probe.stat();
    // Deno's `--allow-read` fence resolves links itself and, when the target is not visible,
    // opens the link (O_NOFOLLOW): a link that leads nowhere visible is not found (§7.6).
    if (stat.isSymbolicLink()) throw errnoError("ENOENT");
    if ((stat.isFile() || stat.isDirectory()) && await reopenWorks()) {
      const flags = constants.O_RDONLY | O_NOBLOCK_NOCTTY | (stat.isDirectory() ? constants.O_DIRECTORY : 0);
      const checked = await fs.open(`/proc/self/fd/${probe.fd}`, flags);
      await checked.close();
    }
    return stat;
  } finally {
    await probe.close();
  }
}
