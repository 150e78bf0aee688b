import * as fs from "node:fs/promises";
import type { FsDirectoryEntry, FsReadDirectoryResult } from "../protocol/mod.ts";
import { joinPath, listDirectory } from "./list_directory.ts";
import type { ListedEntry } from "./list_directory.ts";
import { jsonLength, ReplyBudget } from "./reply_budget.ts";

/** `{"entries":[]}`: the result before its first entry. */
const EMPTY_RESULT_UNITS = JSON.stringify({ entries: [] }).length;
/** An entry's JSON text without its name's JSON string, both flags `false`. */
const ENTRY_UNITS = JSON.stringify({ fileName: "", isDirectory: false, isFile: false }).length -
  jsonLength("");

/**
 * `fs/readDirectory` (PROTOCOL.md §7.8) of `dir`: sorted entries with their targets' types,
 * dangling links left out. It answers -32001 as soon as the entries found would take the result's
 * JSON text past `maxReplyBytes`, which the reply that carries it would pass too. With
 * `maxDirectoryBytes`, a larger directory is not read (`listDirectory`).
 */
export async function readDirectory(
  dir: string,
  maxReplyBytes: number,
  maxDirectoryBytes?: number,
): Promise<FsReadDirectoryResult> {
  const budget = new ReplyBudget("fs/readDirectory", { limit: maxReplyBytes, used: EMPTY_RESULT_UNITS });
  let found = 0;
  const count = (item: FsDirectoryEntry | null): FsDirectoryEntry | null => {
    // Every entry but the first comes after a comma.
    if (item !== null) budget.spend(entryUnits(item) + (found++ > 0 ? 1 : 0));
    return item;
  };
  const entries = await listDirectory(dir, (entry) => {
    const item = describe(dir, entry);
    return item instanceof Promise ? item.then(count) : count(item);
  }, maxDirectoryBytes);
  return { entries };
}

/**
 * The entry as the result lists it, at once unless it is a symlink, whose target is examined; null
 * for one whose target cannot be.
 */
function describe(dir: string, entry: ListedEntry): FsDirectoryEntry | Promise<FsDirectoryEntry | null> {
  switch (entry.type) {
    case "file":
      return { fileName: entry.name, isDirectory: false, isFile: true };
    case "directory":
      return { fileName: entry.name, isDirectory: true, isFile: false };
    case "other":
      return { fileName: entry.name, isDirectory: false, isFile: false };
    case "symlink":
      return fs.stat(joinPath(dir, entry.name)).then(
        (target) => ({ fileName: entry.name, isDirectory: target.isDirectory(), isFile: target.isFile() }),
        () => null,
      );
  }
}

/** The UTF-16 units of `item`'s JSON text (`true` is one shorter than `false`). */
function entryUnits(item: FsDirectoryEntry): number {
  return ENTRY_UNITS + jsonLength(item.fileName) - (item.isDirectory ? 1 : 0) - (item.isFile ? 1 : 0);
}
