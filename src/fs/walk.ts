import * as fs from "node:fs/promises";
import { ErrorCode, pathToUri, RpcError } from "../protocol/mod.ts";
import type { FsWalkEntry, FsWalkError, FsWalkOptions, FsWalkResult } from "../protocol/mod.ts";
import { osError } from "./error_map.ts";
import { joinPath, listDirectory } from "./list_directory.ts";
import { jsonLength, ReplyBudget } from "./reply_budget.ts";
import { LargeListing } from "./small_listing.ts";

interface QueuedDirectory {
  readonly path: string;
  /** The depth of this directory's children (the root's children have depth 0). */
  readonly childDepth: number;
}

/** An entry found in a directory, before the directory's entries are sorted. */
interface FoundEntry {
  readonly path: string;
  readonly uri: string;
  readonly kind: "file" | "directory";
  /** The UTF-16 units its JSON text takes in the result, the comma before it included. */
  readonly units: number;
}

/** `{"entries":[],"errors":[],"truncated":false}`: the result before its first item. */
const EMPTY_RESULT_UNITS = JSON.stringify({ entries: [], errors: [], truncated: false }).length;
/** An entry's JSON text without the JSON strings of its path and kind. */
const ENTRY_UNITS = JSON.stringify({ path: "", kind: "" }).length - 2 * jsonLength("");
/** An error item's JSON text without the JSON strings of its path and message. */
const ERROR_UNITS = JSON.stringify({ path: "", message: "" }).length - 2 * jsonLength("");

/** The largest options a walk takes, as in the Codex reference (PROTOCOL.md §7.9). */
export const WALK_MAXIMUMS = { maxDepth: 64, maxDirectories: 10_000, maxEntries: 50_000 } as const;

/** Refuses options past `WALK_MAXIMUMS` with -32600, before the root is looked at. */
function checkWalkMaximums(options: FsWalkOptions): void {
  if (
    options.maxDepth > WALK_MAXIMUMS.maxDepth || options.maxDirectories > WALK_MAXIMUMS.maxDirectories ||
    options.maxEntries > WALK_MAXIMUMS.maxEntries
  ) {
    const { maxDepth, maxDirectories, maxEntries } = WALK_MAXIMUMS;
    throw new RpcError(
      ErrorCode.InvalidRequest,
      "InvalidInput",
      `filesystem walk limits exceed maximums: depth=${maxDepth}, directories=${maxDirectories}, entries=${maxEntries}`,
    );
  }
}

/** What bounds a walk besides its options: the request's cancellation and the reply limit. */
export interface WalkLimits {
  readonly signal?: AbortSignal | undefined;
  /** `--max-reply-bytes`: past it the walk answers -32001 (PROTOCOL.md §2.8). */
  readonly maxReplyBytes: number;
  /** A directory larger than this on disk ends the walk with `LargeListing` (`listDirectory`). */
  readonly maxDirectoryBytes?: number | undefined;
}

/**
 * `fs/walk` (PROTOCOL.md §7.9): breadth-first from `root`, entries in name order per directory,
 * bounded by depth, directories read and entries returned; with `pruneHiddenDirectories` a
 * directory (or a followed link to one) whose name starts with a dot is listed but not read. Errors of the root's stat are thrown;
 * a directory that cannot be read becomes an `errors` item. It answers -32001 as soon as the
 * result's JSON text would pass `maxReplyBytes`, counting the entries of the directory being read
 * before they are sorted, so a directory whose entries alone pass it is refused even where
 * `maxEntries` would have cut them: its entries are known in name order only once all are read.
 */
export async function walkTree(
  root: string,
  options: FsWalkOptions,
  limits: WalkLimits,
): Promise<FsWalkResult> {
  checkWalkMaximums(options);
  const rootStat = await fs.stat(root);
  const entries: FsWalkEntry[] = [];
  const errors: FsWalkError[] = [];
  if (!rootStat.isDirectory()) return { entries, errors, truncated: false };
  const budget = new ReplyBudget("fs/walk", { limit: limits.maxReplyBytes, used: EMPTY_RESULT_UNITS });
  // Directories read, by device and inode, so a followed symlink never reads a directory twice.
  const visited = new Set<string>();
  const queue: QueuedDirectory[] = [{ path: root, childDepth: 0 }];
  let directoriesRead = 0;
  let truncated = false;
  outer: for (let head = 0; head < queue.length; head++) {
    limits.signal?.throwIfAborted();
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
    let listed: FoundEntry[];
    try {
      listed = await readEntries(directory.path, {
        options,
        budget,
        first: entries.length === 0,
        maxDirectoryBytes: limits.maxDirectoryBytes,
      });
    } catch (error) {
      // The reply limit ends the walk, and so does a directory too large to read without a slot;
      // a directory that cannot be read is an `errors` item.
      if (error instanceof RpcError && error.code === ErrorCode.LimitReached) throw error;
      if (error instanceof LargeListing) throw error;
      const item = { path: pathToUri(directory.path), message: osError(error).message };
      budget.spend(
        ERROR_UNITS + jsonLength(item.path) + jsonLength(item.message) + (errors.length > 0 ? 1 : 0),
      );
      errors.push(item);
      continue;
    }
    for (const found of listed) {
      if (entries.length >= options.maxEntries) {
        truncated = true;
        break outer;
      }
      budget.spend(found.units - (entries.length === 0 ? 1 : 0));
      entries.push({ path: found.uri, kind: found.kind });
      if (
        found.kind === "directory" && directory.childDepth < options.maxDepth &&
        !(options.pruneHiddenDirectories === true && isHidden(found.path))
      ) {
        queue.push({ path: found.path, childDepth: directory.childDepth + 1 });
      }
    }
  }
  return { entries, errors, truncated };
}

/**
 * The entries of `dir` the walk lists, sorted; throws the budget's -32001 once they would not fit
 * beside what the result holds (`first`: it holds no entry yet, so the first needs no comma).
 */
async function readEntries(
  dir: string,
  { options, budget, first, maxDirectoryBytes }: {
    options: FsWalkOptions;
    budget: ReplyBudget;
    first: boolean;
    maxDirectoryBytes: number | undefined;
  },
): Promise<FoundEntry[]> {
  let held = first ? -1 : 0;
  const found = (path: string, kind: "file" | "directory" | null): FoundEntry | null => {
    if (kind === null) return null;
    const uri = pathToUri(path);
    const units = ENTRY_UNITS + jsonLength(uri) + jsonLength(kind) + 1;
    held += units;
    if (!budget.fits(held)) throw budget.exceeded();
    return { path, uri, kind, units };
  };
  return await listDirectory(dir, (entry) => {
    const path = joinPath(dir, entry.name);
    switch (entry.type) {
      case "file":
      case "directory":
        return found(path, entry.type);
      case "symlink":
        return symlinkKind(path, options.followDirectorySymlinks).then((kind) => found(path, kind));
      case "other":
        return null;
    }
  }, maxDirectoryBytes);
}

/** Whether the last component of `path` starts with a dot. */
function isHidden(path: string): boolean {
  return path.slice(path.lastIndexOf("/") + 1).startsWith(".");
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
