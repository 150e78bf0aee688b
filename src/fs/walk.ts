import * as fs from "node:fs/promises";
import { pathToUri } from "../protocol/mod.ts";
import type { FsWalkEntry, FsWalkError, FsWalkOptions, FsWalkResult } from "../protocol/mod.ts";
import { osError } from "./error_map.ts";
import { joinPath, listDirectory } from "./list_directory.ts";

interface QueuedDirectory {
  readonly path: string;
  /** The depth of this directory's children (the root's children have depth 0). */
  readonly childDepth: number;
}

/**
 * `fs/walk` (PROTOCOL.md §7.9): breadth-first from `root`, entries in name order per directory,
 * bounded by depth, directories read and entries returned. Errors of the root's stat are thrown;
 * a directory that cannot be read becomes an `errors` item.
 */
export async function walkTree(
  root: string,
  options: FsWalkOptions,
  signal?: AbortSignal,
): Promise<FsWalkResult> {
  const rootStat = await fs.stat(root);
  const entries: FsWalkEntry[] = [];
  const errors: FsWalkError[] = [];
  if (!rootStat.isDirectory()) return { entries, errors, truncated: false };
  // Directories read, by device and inode, so a followed symlink never reads a directory twice.
  const visited = new Set<string>();
  const queue: QueuedDirectory[] = [{ path: root, childDepth: 0 }];
  let directoriesRead = 0;
  let truncated = false;
  outer: for (let head = 0; head < queue.length; head++) {
    signal?.throwIfAborted();
    const directory = queue[head];
    if (directory === undefined) break;
    if (options.followDirectorySymlinks) {
      const key = await identity(directory.path);
      if (key !== null) {
        if (visited.has(key)) continue;
        visited.add(key);
      }
    }
    if (directoriesRead >= options.maxDirectories) {
      truncated = true;
      break;
    }
    directoriesRead++;
    let listed;
    try {
      listed = await listDirectory(directory.path);
    } catch (error) {
      errors.push({ path: pathToUri(directory.path), message: osError(error).message });
      continue;
    }
    const kinds = await Promise.all(listed.map(async (entry) => {
      const path = joinPath(directory.path, entry.name);
      switch (entry.type) {
        case "file":
        case "directory":
          return entry.type;
        case "symlink":
          return await symlinkKind(path, options.followDirectorySymlinks);
        case "other":
          return null;
      }
    }));
    for (let i = 0; i < listed.length; i++) {
      const kind = kinds[i];
      const entry = listed[i];
      if (kind === null || kind === undefined || entry === undefined) continue;
      if (entries.length >= options.maxEntries) {
        truncated = true;
        break outer;
      }
      const path = joinPath(directory.path, entry.name);
      entries.push({ path: pathToUri(path), kind });
      if (kind === "directory" && directory.childDepth < options.maxDepth) {
        queue.push({ path, childDepth: directory.childDepth + 1 });
      }
    }
  }
  return { entries, errors, truncated };
}

async function symlinkKind(path: string, followDirectories: boolean): Promise<"file" | "directory" | null> {
  try {
    const stat = await fs.stat(path);
    if (stat.isFile()) return "file";
    if (stat.isDirectory() && followDirectories) return "directory";
    return null;
  } catch {
    return null;
  }
}

async function identity(path: string): Promise<string | null> {
  try {
    const stat = await fs.stat(path);
    return `${stat.dev}:${stat.ino}`;
  } catch {
    // The read that follows reports the problem as an `errors` item.
    return null;
  }
}
