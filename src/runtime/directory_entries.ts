/**
 * The entries of a directory as the runtime reads them. Deno's `node:fs` `readdir` sorts what it
 * read before it answers, in JavaScript on the event loop: 100,000 names held every session of a
 * Deno server for 200–400 ms. Deno's own `readDir` does not sort (the listing sorts once, by UTF-16
 * code units, as the protocol asks). Bun's `readdir` does not sort either and stays on `node:fs`.
 * Runtime-neutral: the Deno half is `deno_directory_entries.ts`, loaded under Deno only.
 */
import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";

/** What a directory entry is, seen without following it. */
export type DirectoryEntryType = "file" | "directory" | "symlink" | "other";

/**
 * One entry: its name (a name that is not valid UTF-8 may come decoded with U+FFFD) and its own
 * type where the directory tells it; null where it does not (the caller asks the kernel).
 */
export interface DirectoryEntry {
  readonly name: string;
  readonly type: DirectoryEntryType | null;
}

/** Reads every entry of `dir`, in no particular order; rejects with the OS error (`code`). */
export type DirectoryReader = (dir: string) => Promise<DirectoryEntry[]>;

/** The Deno reader, hidden from `tsc` (which has no Deno types); bundlers fold the name. */
async function importDenoReader(): Promise<unknown> {
  return await import("./deno_directory_entries" + ".ts");
}

let reader: Promise<DirectoryReader> | null = null;

/** Reads the entries of `dir` through the runtime's fastest reader that does not sort. */
export async function readDirectoryEntries(dir: string): Promise<DirectoryEntry[]> {
  reader ??= pickReader();
  return (await reader)(dir);
}

async function pickReader(): Promise<DirectoryReader> {
  if (!("Deno" in globalThis)) return readWithNodeFs;
  const adapter = await importDenoReader();
  if (typeof adapter === "object" && adapter !== null && "readDenoDirectory" in adapter) {
    // deno_directory_entries.ts declares it `: DirectoryReader`; `deno check` verifies it.
    const read = adapter.readDenoDirectory;
    if (typeof read === "function") return read as DirectoryReader;
  }
  throw new TypeError("deno_directory_entries.ts does not export readDenoDirectory");
}

async function readWithNodeFs(dir: string): Promise<DirectoryEntry[]> {
  const dirents = await readdir(dir, { withFileTypes: true });
  return dirents.map((dirent) => ({ name: String(dirent.name), type: typeOf(dirent) }));
}

function typeOf(entry: Dirent): DirectoryEntryType | null {
  if (entry.isSymbolicLink()) return "symlink";
  if (entry.isFile()) return "file";
  if (entry.isDirectory()) return "directory";
  if (entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice()) {
    return "other";
  }
  return null;
}
