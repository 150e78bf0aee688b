/**
 * The server's program file on an inode no other name shares. Package managers that install from
 * a cache by hard links (`bun install`, pnpm, Deno's `node_modules`) leave the installed bundle
 * and the cache's copy as one inode, and a sandbox whose writable roots hold the cache (`~/.bun`)
 * writes the bundle through that name: the read-only cover on the bundle's own path does not
 * stop it, and the bundle is what every sandboxed launch runs before confinement and what the
 * next start of the server runs. So a program file with more than one link is replaced, before
 * any sandbox starts, by a copy of itself under its own name; where that cannot be done, the
 * launches run a private copy in the state directory instead.
 */
import { constants } from "node:fs";
import type { Stats } from "node:fs";
import { copyFile, lchown, lstat, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import process from "node:process";

/** What `ownInode` did with a program file. */
export type OwnInode =
  /** It had no other name (or is no regular file, or is not there): used as it is. */
  | { readonly kind: "alone" }
  /** Its name now holds a copy of its own; the old inode stays with the other names. */
  | { readonly kind: "split" }
  /** It could not be split: the launches run `copy`, in the state directory. */
  | { readonly kind: "private"; readonly copy: string };

/**
 * Gives `path` (a real path) an inode of its own when another name shares it: copies it beside
 * itself (mode, and owner where the server may set it), then renames the copy over it. Falls back
 * to a copy in `stateDir` (read-only in every sandbox) when the directory or the owner stops that.
 */
export async function ownInode(path: string, stateDir: string): Promise<OwnInode> {
  // A file it cannot look at is left to the launches, which report it.
  const info = await lstat(path).catch(() => null);
  if (info === null || !info.isFile() || info.nlink <= 1) return { kind: "alone" };
  if (await split(path, info)) return { kind: "split" };
  const copy = join(stateDir, basename(path));
  await copyFile(path, copy);
  return { kind: "private", copy };
}

/**
 * Gives every file of `dir` (a package a server running from its sources loads: `node_modules/zod`)
 * that has other links an inode of its own, as `ownInode` does, with no fallback: the runtime
 * loads the package by its path. Looks no further when the package's `package.json` has one link
 * (a package manager links all of a package's files or none). Resolves with the files it could not
 * split.
 */
export async function ownInodesUnder(dir: string): Promise<string[]> {
  const manifest = await lstat(join(dir, "package.json")).catch(() => null);
  if (manifest === null || manifest.nlink <= 1) return [];
  const left: string[] = [];
  const pending = [dir];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    for (const entry of await readdir(next, { withFileTypes: true })) {
      const path = join(next, entry.name);
      if (entry.isDirectory()) pending.push(path);
      if (!entry.isFile()) continue;
      const info = await lstat(path);
      if (info.nlink > 1 && !await split(path, info)) left.push(path);
    }
  }
  return left;
}

/**
 * Copies `path` beside itself (mode, and owner where the server may set it) and renames the copy
 * over it; false when the directory or the owner stops that.
 */
async function split(path: string, info: Stats): Promise<boolean> {
  const beside = join(dirname(path), `.${basename(path)}.exec-server-${process.pid}`);
  try {
    await copyFile(path, beside, constants.COPYFILE_EXCL);
    // Root keeps the file its owner's; another user may replace only a file of its own. Not
    // through a link: one renamed over the copy would have its target change hands.
    if (process.getuid?.() === 0) await lchown(beside, info.uid, info.gid);
    else if (info.uid !== process.getuid?.()) throw new Error("another user's file");
    await rename(beside, path);
    return true;
  } catch {
    await rm(beside, { force: true }).catch(() => {});
    return false;
  }
}
