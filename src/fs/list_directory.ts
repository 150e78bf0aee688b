import * as fs from "node:fs/promises";
import type { Dirent } from "node:fs";

/** What a directory entry is, seen without following it. */
export type EntryType = "file" | "directory" | "symlink" | "other";

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

function typeOf(entry: Dirent): EntryType | null {
  if (entry.isSymbolicLink()) return "symlink";
  if (entry.isFile()) return "file";
  if (entry.isDirectory()) return "directory";
  if (entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice()) {
    return "other";
  }
  return null;
}

/** Entries whose types are settled together: a bound on the system calls and promises in flight. */
const BATCH_ENTRIES = 256;

/**
 * The entries of `dir` that `keep` maps to a value, those values sorted by the entries' names in
 * UTF-16 code-unit order. `keep` sees a batch of entries at a time, concurrently, and may stop the
 * listing by throwing (a reply budget does), so beyond the runtime's own read of the names (Bun and
 * Deno read a directory whole, through `opendir` too) the listing holds what `keep` keeps, however
 * large the directory. Names that are not valid UTF-8 cannot be expressed on the wire (PROTOCOL.md
 * §9.3) and are left out: the runtimes decode them with U+FFFD, so a name holding U+FFFD is kept
 * only when it exists under that spelling.
 */
export async function listDirectory<T>(
  dir: string,
  keep: (entry: ListedEntry) => T | null | Promise<T | null>,
): Promise<T[]> {
  const dirents = await fs.readdir(dir, { withFileTypes: true });
  const kept: { readonly name: string; readonly value: T }[] = [];
  for (let start = 0; start < dirents.length; start += BATCH_ENTRIES) {
    const batch = await Promise.all(
      dirents.slice(start, start + BATCH_ENTRIES).map(async (dirent) => {
        const entry = await settle(dir, dirent);
        if (entry === null) return null;
        const value = await keep(entry);
        return value === null ? null : { name: entry.name, value };
      }),
    );
    for (const item of batch) if (item !== null) kept.push(item);
  }
  kept.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return kept.map((item) => item.value);
}

/** `dirent` with its own type; null when it is gone or its name is a lossy decoding. */
async function settle(dir: string, dirent: Dirent): Promise<ListedEntry | null> {
  const name = String(dirent.name);
  const known = name.includes("\uFFFD") ? null : typeOf(dirent);
  if (known !== null) return { name, type: known };
  // The entry's type is unknown (DT_UNKNOWN, or a type the runtime does not report) or its name
  // may be a lossy decoding: ask the kernel.
  try {
    const stat = await fs.lstat(joinPath(dir, name));
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
