/**
 * Deno's half of `directory_entries.ts`: `Deno.readDir`, which reads the directory off the event
 * loop and hands back its entries unsorted. It tells files, directories and symlinks apart and
 * nothing else, so a FIFO, socket or device (all three false) is left to the caller's `lstat`.
 */
import type { DirectoryEntry, DirectoryReader } from "./directory_entries.ts";

export const readDenoDirectory: DirectoryReader = async (dir) => {
  const entries: DirectoryEntry[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const type = entry.isSymlink ? "symlink" : entry.isFile ? "file" : entry.isDirectory ? "directory" : null;
    entries.push({ name: entry.name, type });
  }
  return entries;
};
