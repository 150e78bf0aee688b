/**
 * The private state directory of a server: its join helper, the runtime's cache of its start-up
 * probe and, when it cannot share them, its bundles. Every child of the server runs the join
 * helper before anything else, and every launcher runs the bundles before it confines itself, so
 * no sandbox may write it. It is made (mode 0700) in `$XDG_RUNTIME_DIR` or else the temporary
 * directory, at its real path: the sandboxes compare it with their roots by real path.
 */
import { lstat, mkdtemp, readdir, readFile, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const STATE_PREFIX = "exec-server-";
/** A state directory's name: the server's pid and `mkdtemp`'s six characters. */
const STATE_DIR_NAME = /^exec-server-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * Creates this server's private state directory, after removing the ones of servers that are
 * gone. It exists, at its real path, before any sandbox starts, so every sandbox whose writable
 * roots contain it gets it read-only.
 */
export async function createStateDir(env: Readonly<Record<string, string>>): Promise<string> {
  const base = await realPath(stateDirBase(env));
  await removeStaleStateDirs(base);
  return await mkdtemp(join(base, `${STATE_PREFIX}${process.pid}-`));
}

function stateDirBase(env: Readonly<Record<string, string>>): string {
  const runtimeDir = env["XDG_RUNTIME_DIR"];
  return runtimeDir !== undefined && runtimeDir.startsWith("/") ? runtimeDir : tmpdir();
}

/** `path` with every symbolic link resolved, or as it is when it cannot be (the caller fails on it). */
async function realPath(path: string): Promise<string> {
  return await realpath(path).catch(() => path);
}

/** Removes the state directories (owned by this user, named with a pid) of servers that are gone. */
async function removeStaleStateDirs(base: string): Promise<void> {
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
    // that is not this user's, say) stays for a later try.
    await rm(path, { recursive: true, force: true }).catch(() => {});
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
