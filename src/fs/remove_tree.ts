import * as fs from "node:fs/promises";
import { readDirectoryEntries } from "../runtime/mod.ts";
import { errnoError, errnoOf } from "./error_map.ts";
import { holdDirectory } from "./held_directory.ts";
import type { DirectoryIdentity, HeldDirectory } from "./held_directory.ts";
import { joinPath } from "./list_directory.ts";
import { reopenWorks } from "./open_regular.ts";

/**
 * Subtrees of one remove taken apart at once. Each is a chain of dependent calls (open, list,
 * remove), each call a round trip to the runtime's thread pool; several at once keep the pool
 * busy (one at a time took four times as long as Deno's own remove of a node_modules tree).
 */
const WALKERS = 4;
/**
 * Descriptors one walker holds on its way down at most: deeper, the shallowest held level lets
 * its descriptor go and is found again through `..` of the level below it on the way back up.
 */
const HELD_LEVELS = 64;
/** Entries of one directory unlinked at once: a bound on the calls and promises in flight. */
const UNLINK_BATCH = 64;

/** What the walkers of one remove share. */
interface Walkers {
  /** Walkers that may still start. */
  free: number;
  /** The first failure: every walker stops at its next step. */
  failure: { readonly error: unknown } | null;
  readonly signal: AbortSignal | undefined;
  /** The deepest level entered (the directory removed is level 1); deeper answers ENAMETOOLONG. */
  readonly maxDepth: number;
  /** Levels are held by descriptors, which may be let go (false without /proc: held by their paths). */
  readonly byDescriptor: boolean;
}

/** One directory on the way down: its held descriptor and what of it is still to remove. */
interface Level {
  /** Null while its descriptor is let go (it lies more than `HELD_LEVELS` above the deepest). */
  held: HeldDirectory | null;
  /** Its device and inode, taken as its descriptor is let go. */
  identity: Promise<DirectoryIdentity | null> | null;
  /** Its name in the level above. */
  readonly name: string;
  /** Its subdirectories still to remove. */
  readonly directories: string[];
  /** Subdirectories another walker empties; this level removes them once they are empty. */
  readonly handedOff: { readonly name: string; readonly done: Promise<void> }[];
  /** It held a name the runtime cannot spell (not UTF-8), which only the runtime's own remove reaches. */
  readonly unspellable: boolean;
}

/**
 * Removes everything inside the directory at `path` (not the directory itself), depth first,
 * without recursion: the runtimes' own recursive removes recurse once per level (Deno's
 * overflowed its thread's stack and aborted the process 11,000 levels down; Bun's took 82 s for
 * 3,000 levels). Each directory is held by a descriptor opened without following a link and
 * reached through it (`holdDirectory`), so a directory exchanged with a link, or moved, while the
 * tree is removed never leads the remove out of the tree. Past `HELD_LEVELS` levels a level's
 * descriptor is let go and found again through `..` of the level below; it must be the same
 * directory (device and inode, as `rm`'s fts checks), else the tree was moved under the remove,
 * which stops with ESTALE.
 */
export async function removeTreeContents(
  path: string,
  options: { signal?: AbortSignal | undefined; maxDepth?: number } = {},
): Promise<void> {
  await using top = await holdDirectory(path, true, { verify: false });
  const walkers: Walkers = {
    free: WALKERS - 1,
    failure: null,
    signal: options.signal,
    maxDepth: options.maxDepth ?? Number.POSITIVE_INFINITY,
    byDescriptor: await reopenWorks(),
  };
  await walk(top, walkers, 0);
}

/**
 * Removes the directory at `path` (a link there is refused, never followed) and everything in it,
 * as `removeTreeContents` does.
 */
export async function removeTree(path: string, options: { maxDepth?: number } = {}): Promise<void> {
  await removeTreeContents(path, options);
  await fs.rmdir(path);
}

/**
 * Empties the held directory `root` (which stays held, `base` levels below the directory
 * removed), handing subtrees to free walkers.
 */
async function walk(root: HeldDirectory, walkers: Walkers, base: number): Promise<void> {
  const levels: Level[] = [];
  // levels[1 .. firstHeld) have let their descriptors go.
  let firstHeld = 1;
  try {
    levels.push(await enter(root, ""));
    for (;;) {
      if (walkers.failure !== null) throw walkers.failure.error;
      walkers.signal?.throwIfAborted();
      const top = levels[levels.length - 1] as Level;
      const held = top.held as HeldDirectory;
      const name = top.directories.pop();
      if (name !== undefined) {
        if (base + levels.length + 1 > walkers.maxDepth) throw errnoError("ENAMETOOLONG");
        // Held before it is handed off: this level's descriptor may be let go (and its number
        // given to another open) before another walker would open the child through it.
        const handing = walkers.free > 0 && top.directories.length > 0;
        if (handing) walkers.free--;
        const child = await holdChild(held.path, name).catch((error: unknown) => {
          if (handing) walkers.free++;
          throw error;
        });
        if (child === null) {
          if (handing) walkers.free++;
          continue;
        }
        if (handing) {
          const done = handOff(child, walkers, base + levels.length);
          // Heard at once (its failure also stops this walker at its next step), awaited in `finish`.
          done.catch(() => {});
          top.handedOff.push({ name, done });
          continue;
        }
        levels.push(
          await enter(child, name).catch(async (error: unknown) => {
            await child[Symbol.asyncDispose]();
            throw error;
          }),
        );
        if (walkers.byDescriptor && levels.length - firstHeld > HELD_LEVELS) {
          // Let go while the walk goes on: what it needs of the level is taken first.
          const oldest = levels[firstHeld] as Level;
          const letGo = oldest.held as HeldDirectory;
          oldest.held = null;
          // An identity that cannot be taken is none: the climb back then stops with ESTALE.
          oldest.identity = letGo.identity().catch(() => null).then(async (identity) => {
            await Promise.resolve(letGo[Symbol.asyncDispose]()).catch(() => {});
            return identity;
          });
          firstHeld++;
        }
        continue;
      }
      await finish(top, held);
      if (levels.length === 1) return;
      const parent = levels[levels.length - 2] as Level;
      if (parent.held === null) {
        // The levels let go just above are found again at once: the `..` of each is independent.
        const from = Math.max(1, levels.length - 1 - HELD_LEVELS);
        const climbs = await Promise.allSettled(
          levels.slice(from, -1).map(async (level, index, above) => {
            level.held = await climb(held, above.length - index, level.identity);
          }),
        );
        for (const outcome of climbs) if (outcome.status === "rejected") throw outcome.reason;
        firstHeld = from;
      }
      await removeEmpty(joinPath((parent.held as HeldDirectory).path, top.name));
      levels.pop();
      await held[Symbol.asyncDispose]();
    }
  } catch (error) {
    walkers.failure ??= { error };
    throw error;
  } finally {
    // Every walker this one started has stopped before the remove answers.
    await Promise.allSettled(levels.flatMap((level) => level.handedOff.map((handed) => handed.done)));
    await Promise.allSettled(levels.slice(1).map((level) => level.held?.[Symbol.asyncDispose]()));
  }
}

/** Another walker empties `child` (held, a subdirectory `base` levels below the top), then lets it go. */
async function handOff(child: HeldDirectory, walkers: Walkers, base: number): Promise<void> {
  try {
    await walk(child, walkers, base);
  } finally {
    walkers.free++;
    await child[Symbol.asyncDispose]();
  }
}

/** Waits for the subdirectories handed off and removes them, and what the runtime cannot spell. */
async function finish(level: Level, held: HeldDirectory): Promise<void> {
  const outcomes = await Promise.allSettled(level.handedOff.map((handed) => handed.done));
  for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
  for (const handed of level.handedOff.splice(0)) await removeEmpty(joinPath(held.path, handed.name));
  if (level.unspellable) await removeUnspellable(held.path);
}

/**
 * Lists the held directory and unlinks everything in it but its subdirectories, which the level
 * keeps to remove next. An entry that became a directory since the listing joins them; one that
 * is gone is skipped.
 */
async function enter(held: HeldDirectory, name: string): Promise<Level> {
  const directories: string[] = [];
  const others: string[] = [];
  for (const entry of await readDirectoryEntries(held.path)) {
    // A name the runtime decoded with U+FFFD may not exist under that spelling: it is tried as
    // a file first, and a directory of that name answers EISDIR.
    if (entry.type === "directory" && !entry.name.includes("\uFFFD")) directories.push(entry.name);
    else others.push(entry.name);
  }
  let unspellable = false;
  for (let start = 0; start < others.length; start += UNLINK_BATCH) {
    await Promise.all(
      others.slice(start, start + UNLINK_BATCH).map(async (entry) => {
        try {
          await fs.unlink(joinPath(held.path, entry));
        } catch (error) {
          const code = errnoOf(error);
          if (code === "EISDIR") directories.push(entry);
          else if (code === "ENOENT") unspellable ||= entry.includes("\uFFFD");
          else throw error;
        }
      }),
    );
  }
  return { held, identity: null, name, directories, handedOff: [], unspellable };
}

/** The subdirectory `name` of `dir`, held; null when it is gone, or removed when it is no directory now. */
async function holdChild(dir: string, name: string): Promise<HeldDirectory | null> {
  const path = joinPath(dir, name);
  try {
    return await holdDirectory(path, true, { verify: false });
  } catch (error) {
    const code = errnoOf(error);
    if (code === "ENOENT") return null;
    // Exchanged with a link or a file since the listing: that entry itself is removed.
    if (code !== "ENOTDIR" && code !== "ELOOP") throw error;
  }
  try {
    await fs.unlink(path);
  } catch (error) {
    // A directory again by now: its parent's rmdir then answers ENOTEMPTY.
    if (errnoOf(error) !== "ENOENT" && errnoOf(error) !== "EISDIR") throw error;
  }
  return null;
}

/**
 * The level `up` levels above `child`, found again through `..`: only the directory it was when it
 * was let go.
 */
async function climb(
  child: HeldDirectory,
  up: number,
  identity: Promise<DirectoryIdentity | null> | null,
): Promise<HeldDirectory> {
  const parent = await holdDirectory(`${child.path}${"/..".repeat(up)}`, false, { verify: false });
  try {
    const expected = await identity;
    const found = await parent.identity();
    if (expected == null || found === null || found.dev !== expected.dev || found.ino !== expected.ino) {
      throw errnoError("ESTALE");
    }
    return parent;
  } catch (error) {
    await parent[Symbol.asyncDispose]();
    throw error;
  }
}

async function removeEmpty(path: string): Promise<void> {
  try {
    await fs.rmdir(path);
  } catch (error) {
    // Moved away meanwhile: out of the tree, and no longer this remove's to take.
    if (errnoOf(error) !== "ENOENT") throw error;
  }
}

/**
 * The entries of a held directory that the runtime cannot spell (names that are not UTF-8, which
 * Deno decodes with U+FFFD) are removed by the runtime's own recursive remove, which works by the
 * bytes of the names: of the directory's `.`, so only what is inside it. It ends with EINVAL,
 * refusing to remove `.` itself, which the caller does.
 */
async function removeUnspellable(dir: string): Promise<void> {
  try {
    await fs.rm(`${dir}/.`, { recursive: true, force: false });
  } catch (error) {
    if (errnoOf(error) !== "EINVAL") throw error;
  }
}
