/**
 * The private state directory of a server: its join helper (where it cannot be a sealed memfd),
 * the runtime's cache of its start-up probe and, when it cannot share them, its bundles. Every
 * child of the server runs the join helper before anything else, and every launcher runs the
 * bundles before it confines itself, so no sandbox may write a state directory: not its own
 * server's, nor another server's.
 *
 * A state directory (`exec-server-PID-XXXXXX`, mode 0700) is made at its real path, in a
 * directory of its user's (`exec-server-uid-UID`, mode 0700) that the server makes before it
 * starts any sandbox and that is never removed, in `$XDG_RUNTIME_DIR` or else the temporary
 * directory. A server's sandboxes see that parent read-only (it is one of the server's own files),
 * so a state directory that a later server of the same user makes in it is read-only in them too.
 * Where the parent cannot be used (it is a link, or another user's), the state directory is made
 * beside it, as servers of earlier versions made theirs. Every launch also keeps every state
 * directory and parent it finds in these places read-only, whoever owns them (`stateDirsIn`).
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, realpath } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { readDirectoryEntries } from "../runtime/mod.ts";

const STATE_PREFIX = "exec-server-";
/** A state directory's name: the server's pid and `mkdtemp`'s six characters. */
const STATE_DIR_NAME = /^exec-server-(\d+)-[A-Za-z0-9]{6}$/;
/** The name of a user's directory of state directories. */
const STATE_PARENT_NAME = /^exec-server-uid-\d+$/;

/**
 * Removes the directory at `path` and everything in it, never following a link on the way, and
 * going at most `maxDepth` levels deep (a deeper tree fails with ENAMETOOLONG, and stays).
 */
export type TreeRemover = (path: string, options: { maxDepth: number }) => Promise<void>;

/**
 * Levels of a dead server's state directory that are removed at most. A server's own go a few
 * levels deep (its bundles and their code cache). A sandbox whose writable roots hold the place
 * (`/tmp`, under Codex's `workspace-write`) can name a directory there as a dead server's, owned by
 * the server's user as everything the sandbox makes is, and nest 12,000 directories in it: the
 * runtimes' own recursive removes recurse once per level, and Deno's aborted every later start of
 * a server of that user with a stack overflow, while Bun's held it for minutes.
 */
const STALE_MAX_DEPTH = 64;

/**
 * Creates this server's private state directory, after removing the ones of servers that are
 * gone (with `removeTree`, which the fs layer provides). It exists, at its real path, before any
 * sandbox starts, so every sandbox whose writable roots contain it gets it read-only.
 */
export async function createStateDir(
  env: Readonly<Record<string, string>>,
  removeTree: TreeRemover,
): Promise<string> {
  const base = await realPath(stateDirBase(env));
  await removeStaleStateDirs(base, removeTree);
  const parent = await userParent(base);
  if (parent !== null) {
    await removeStaleStateDirs(parent, removeTree);
    const made = await mkdtemp(join(parent, `${STATE_PREFIX}${process.pid}-`)).catch(() => null);
    if (made !== null) return made;
  }
  return await mkdtemp(join(base, `${STATE_PREFIX}${process.pid}-`));
}

/** The state directory and, where it is in one, its user's directory of them. */
export function stateDirFiles(stateDir: string): string[] {
  const parent = dirname(stateDir);
  return STATE_PARENT_NAME.test(basename(parent)) ? [stateDir, parent] : [stateDir];
}

/**
 * The real paths of the places where servers make their state directories: this server's
 * `$XDG_RUNTIME_DIR` and temporary directory, and `/tmp`, the default of both.
 */
export async function stateDirBases(env: Readonly<Record<string, string>>): Promise<string[]> {
  const runtimeDir = env["XDG_RUNTIME_DIR"];
  const places = [
    tmpdir(),
    "/tmp",
    ...(runtimeDir !== undefined && runtimeDir.startsWith("/") ? [runtimeDir] : []),
  ];
  const found = await Promise.all(places.map((place) => realpath(place).catch(() => null)));
  return [...new Set(found.filter((place) => place !== null))];
}

/** How much older than the listing a directory's change time must be for the listing to be kept. */
const SETTLED_NS = 1_000_000_000n;

/** How long a listing serves a place whose change time has moved since. */
const FRESH_MS = 1_000;

/** The last listing of each place, by its path, with when it began. */
const listings = new Map<
  string,
  {
    readonly identity: string;
    readonly place: string;
    readonly began: number;
    readonly settled: boolean;
    readonly dirs: readonly string[];
  }
>();

/**
 * The state directories and users' directories of them in `base` (real directories, whoever
 * owns them), by their paths there. A place is listed again whenever its change time moved: an
 * entry made, removed or renamed there (a link put in a directory's place included) moves it, and
 * nothing short of setting the clock moves it back. A listing is kept only when that time lay a
 * second before the listing began, so no change can share a timestamp with it (the kernel stamps
 * in clock ticks, not nanoseconds). `/tmp` on a busy host holds thousands of entries, and a sandbox
 * that may write it can add hundreds of thousands and keep touching it, so a listing that began
 * less than `FRESH_MS` ago serves whatever the change time says: every resolution of every policy
 * looks into every place, and would list it anew at every launch. What it misses, a state
 * directory made in that second, a sandbox already running could write anyway ("Known limits").
 * `now` is the wall clock in milliseconds.
 */
export async function stateDirsIn(base: string, now: () => number = Date.now): Promise<readonly string[]> {
  const beganMs = now();
  const began = BigInt(beganMs) * 1_000_000n;
  const info = await lstat(base, { bigint: true }).catch(() => null);
  if (info === null || !info.isDirectory()) return [];
  const place = `${info.dev}:${info.ino}`;
  const identity = `${place}:${info.ctimeNs}`;
  const kept = listings.get(base);
  if (kept !== undefined && kept.settled && kept.identity === identity) return kept.dirs;
  const age = kept === undefined ? -1 : beganMs - kept.began;
  // A clock set back makes the age negative: such a listing is not taken for fresh.
  if (kept !== undefined && kept.place === place && age >= 0 && age < FRESH_MS) return kept.dirs;
  // The runtime's reader: Deno's node:fs readdir sorts the names on the event loop.
  const entries = await readDirectoryEntries(base).catch(() => []);
  const candidates = entries.map((entry) => entry.name).filter((name) => isStateDirName(name));
  const found = await Promise.all(candidates.map(async (name) => {
    const path = join(base, name);
    const entry = await lstat(path).catch(() => null);
    return entry !== null && entry.isDirectory() ? path : null;
  }));
  const dirs = found.filter((path) => path !== null);
  const settled = info.ctimeNs + SETTLED_NS < began;
  listings.set(base, { identity, place, began: beganMs, settled, dirs });
  return dirs;
}

/** Whether `name` is that of a state directory or of a user's directory of them. */
export function isStateDirName(name: string): boolean {
  return STATE_DIR_NAME.test(name) || STATE_PARENT_NAME.test(name);
}

function stateDirBase(env: Readonly<Record<string, string>>): string {
  const runtimeDir = env["XDG_RUNTIME_DIR"];
  return runtimeDir !== undefined && runtimeDir.startsWith("/") ? runtimeDir : tmpdir();
}

/** `path` with every symbolic link resolved, or as it is when it cannot be (the caller fails on it). */
async function realPath(path: string): Promise<string> {
  return await realpath(path).catch(() => path);
}

/**
 * This user's directory of state directories in `base`, made if missing; null when what is there
 * is not a directory of this user's that only it may write (a link, another user's directory):
 * a state directory in it would be where someone else decides.
 */
async function userParent(base: string): Promise<string | null> {
  const uid = process.getuid?.();
  if (uid === undefined) return null;
  const path = join(base, `${STATE_PREFIX}uid-${uid}`);
  // EEXIST is the usual answer; whatever is there is examined below.
  await mkdir(path, { mode: 0o700 }).catch(() => {});
  const info = await lstat(path).catch(() => null);
  if (info === null || !info.isDirectory() || info.uid !== uid || (info.mode & 0o022) !== 0) return null;
  return path;
}

/** Removes the state directories (owned by this user, named with a pid) of servers that are gone. */
async function removeStaleStateDirs(base: string, removeTree: TreeRemover): Promise<void> {
  const names = await readdir(base).catch(() => []);
  const uid = process.getuid?.();
  await Promise.all(names.map(async (name) => {
    const match = STATE_DIR_NAME.exec(name);
    if (match === null) return;
    const path = join(base, name);
    const info = await lstat(path).catch(() => null);
    if (info === null || !info.isDirectory() || info.uid !== uid) return;
    if (await isRunning(Number(match[1]))) return;
    // Cleaning up after the dead never stops this start: what cannot be removed (something in it
    // that is not this user's, a tree deeper than a server makes, say) stays for a later try.
    await removeTree(path, { maxDepth: STALE_MAX_DEPTH }).catch(() => {});
  }));
}

async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
