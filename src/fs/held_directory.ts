import { constants } from "node:fs";
import * as fs from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { errnoError } from "./error_map.ts";
import { O_PATH, reopenWorks } from "./open_regular.ts";

/** Which directory a descriptor holds: its device and inode. */
export interface DirectoryIdentity {
  readonly dev: number;
  readonly ino: number;
}

/**
 * A directory held by a descriptor, and the path that reaches it from then on: `/proc/self/fd/N`,
 * which no rename or symlink planted at its name later redirects. A walk that finds its way
 * through a tree by names is led out of it by whoever may write there: a sandbox that exchanged a
 * directory with a symlink after it was listed got the link's target (a host directory) copied
 * in its place. Without /proc the path is the name itself.
 */
export interface HeldDirectory extends AsyncDisposable {
  readonly path: string;
  /** The held directory's device and inode; null when it is held by its name (no /proc). */
  identity(): Promise<DirectoryIdentity | null>;
}

/**
 * Holds the directory at `path`; with `noFollow` a symlink there is refused (ENOTDIR), never
 * followed. The kernel refuses anything but a directory (O_DIRECTORY, which O_NOFOLLOW does not
 * relax); `verify` checks the type once more on the descriptor.
 */
export async function holdDirectory(
  path: string,
  noFollow: boolean,
  options: { verify?: boolean } = {},
): Promise<HeldDirectory> {
  if (!(await reopenWorks())) {
    return { path, identity: () => Promise.resolve(null), [Symbol.asyncDispose]: () => Promise.resolve() };
  }
  const handle: FileHandle = await fs.open(
    path,
    O_PATH | constants.O_DIRECTORY | (noFollow ? constants.O_NOFOLLOW : 0),
  );
  if (options.verify ?? true) {
    try {
      if (!(await handle.stat()).isDirectory()) throw errnoError("ENOTDIR");
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
  return {
    path: `/proc/self/fd/${handle.fd}`,
    identity: async () => {
      const stat = await handle.stat();
      return { dev: Number(stat.dev), ino: Number(stat.ino) };
    },
    [Symbol.asyncDispose]: () => handle.close(),
  };
}
