import * as fs from "node:fs/promises";
import { readDirectoryEntries } from "../runtime/mod.ts";
import type { DirectoryEntry, DirectoryEntryType } from "../runtime/mod.ts";
import { LargeListing } from "./small_listing.ts";

/** What a directory entry is, seen without following it. */
export type EntryType = DirectoryEntryType;

/** One directory entry with its own type (a symlink is `symlink`). */
export interface ListedEntry {
  readonly name: string;
  readonly type: EntryType;
}

/** `dir/name` for an absolute native `dir`. */
export function joinPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** The parent of an absolute native path; `/` for `/`. */
export function parentPath(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

/** Whether `path` equals `root` or lies inside it (both canonical). */
export function isWithin(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(root + "/");
}

/** Entries whose types are settled together: a bound on the system calls and promises in flight. */
const BATCH_ENTRIES = 256;

/**
 * The entries of `dir` that `keep` maps to a value, those values sorted by the entries' names in
 * UTF-16 code-unit order. `keep` sees a batch of entries at a time, concurrently, and may stop the
 * listing by throwing (a reply budget does), so beyond the runtime's own read of the names (Bun and
 * Deno read a directory whole, through `opendir` too; see `readDirectoryEntries`) the listing holds
 * what `keep` keeps, however large the directory. Names that are not valid UTF-8 cannot be expressed on the wire (PROTOCOL.md
 * §9.3) and are left out: the runtimes decode them with U+FFFD, so a name holding U+FFFD is kept
 * only when it exists under that spelling. With `maxDirectoryBytes`, a directory larger than that
 * on disk is not read: `LargeListing`.
 */
export async function listDirectory<T>(
  dir: string,
  keep: (entry: ListedEntry) => T | null | Promise<T | null>,
  maxDirectoryBytes?: number,
): Promise<T[]> {
  if (maxDirectoryBytes !== undefined) {
    const size = Number((await fs.stat(dir)).size);
    if (size > maxDirectoryBytes) throw new LargeListing(`directory of ${size} bytes`);
  }
  const dirents = await readDirectoryEntries(dir);
  const kept: { readonly name: string; readonly value: T }[] = [];
  const add = (name: string, value: T | null): void => {
    if (value !== null) kept.push({ name, value });
  };
  for (let start = 0; start < dirents.length; start += BATCH_ENTRIES) {
    // An entry whose type the directory gives and that `keep` maps at once costs no promise.
    const waits: Promise<void>[] = [];
    try {
      for (const dirent of dirents.slice(start, start + BATCH_ENTRIES)) {
        const entry = settle(dir, dirent);
        if (entry instanceof Promise) {
          waits.push(
            entry.then((found) => found === null ? null : keep(found)).then((value) => {
              add(dirent.name, value);
            }),
          );
          continue;
        }
        const value = keep(entry);
        if (value instanceof Promise) waits.push(value.then((mapped) => add(entry.name, mapped)));
        else add(entry.name, value);
      }
    } catch (error) {
      // `keep` stopped the listing: what is still settling ends unheard.
      void Promise.allSettled(waits);
      throw error;
    }
    await Promise.all(waits);
  }
  kept.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return kept.map((item) => item.value);
}

/**
 * `dirent` with its own type, at once where the directory gives it; else the kernel's answer, null
 * when the entry is gone.
 */
function settle(dir: string, dirent: DirectoryEntry): ListedEntry | Promise<ListedEntry | null> {
  const name = dirent.name;
  const known = name.includes("\uFFFD") ? null : dirent.type;
  if (known !== null) return { name, type: known };
  // The entry's type is unknown (DT_UNKNOWN, or a type the runtime does not report) or its name
  // may be a lossy decoding: ask the kernel.
  return lstatEntry(joinPath(dir, name), name);
}

async function lstatEntry(path: string, name: string): Promise<ListedEntry | null> {
  try {
    const stat = await fs.lstat(path);
    const type: EntryType = stat.isSymbolicLink()
      ? "symlink"
      : stat.isFile()
      ? "file"
      : stat.isDirectory()
      ? "directory"
      : "other";
    return { name, type };
  } catch {
    return null;
  }
}
