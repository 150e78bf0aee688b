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
 * JSON text past `maxReplyBytes`, which the reply that carries it would pass too.
 */
export async function readDirectory(dir: string, maxReplyBytes: number): Promise<FsReadDirectoryResult> {
  const budget = new ReplyBudget("fs/readDirectory", { limit: maxReplyBytes, used: EMPTY_RESULT_UNITS });
  let found = 0;
  const entries = await listDirectory(dir, async (entry) => {
    const item = await describe(dir, entry);
    // Every entry but the first comes after a comma.
    if (item !== null) budget.spend(entryUnits(item) + (found++ > 0 ? 1 : 0));
    return item;
  });
  return { entries };
}

/** The entry as the result lists it; null for a symlink whose target cannot be examined. */
async function describe(dir: string, entry: ListedEntry): Promise<FsDirectoryEntry | null> {
  switch (entry.type) {
    case "file":
      return { fileName: entry.name, isDirectory: false, isFile: true };
    case "directory":
      return { fileName: entry.name, isDirectory: true, isFile: false };
    case "other":
      return { fileName: entry.name, isDirectory: false, isFile: false };
    case "symlink": {
      const target = await fs.stat(joinPath(dir, entry.name)).catch(() => null);
      if (target === null) return null;
      return { fileName: entry.name, isDirectory: target.isDirectory(), isFile: target.isFile() };
    }
  }
}

/** The UTF-16 units of `item`'s JSON text (`true` is one shorter than `false`). */
function entryUnits(item: FsDirectoryEntry): number {
  return ENTRY_UNITS + jsonLength(item.fileName) - (item.isDirectory ? 1 : 0) - (item.isFile ? 1 : 0);
}
