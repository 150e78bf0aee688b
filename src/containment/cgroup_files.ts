/**
 * Reading and writing cgroup control files, removing cgroup trees, and waiting for a cgroup to
 * empty: the file-system side of the cgroup backend, all asynchronous.
 */
import { type FSWatcher, watch } from "node:fs";
import { readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { errnoOf } from "../fs/mod.ts";
import { outlastingShortage } from "./shortage.ts";

/** Writes a control file (`cgroup.kill`, `memory.max`, …); throws the OS error. */
export async function writeControl(path: string, value: string): Promise<void> {
  await writeFile(path, value);
}

/**
 * Kills every process in the cgroup `dir` and below it (`cgroup.kill`); a cgroup that is gone has
 * none. Opening the file takes a descriptor, and a client that had used them all up made the kill of
 * its expired session fail once and for all, so that its daemon outlived the session: a shortage is
 * waited out. Other errors are thrown.
 */
export async function killCgroup(dir: string): Promise<void> {
  try {
    await outlastingShortage(() => writeControl(`${dir}/cgroup.kill`, "1"));
  } catch (error) {
    if (!cgroupGone(error)) throw error;
  }
}

/** The `key value` lines of a control file (`memory.events`, `cpu.stat`); empty when unreadable. */
export async function readKeyed(path: string): Promise<Map<string, number>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return new Map();
  }
  return parseKeyed(text);
}

/** The `key value` lines of a control file's text. */
export function parseKeyed(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space > 0) values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** A control file holding one number (`memory.max_usage_in_bytes`); null when unreadable. */
export async function readNumber(path: string): Promise<number | null> {
  try {
    const value = Number((await readFile(path, "utf8")).trim());
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

/** The pids listed in a `cgroup.procs` file; empty when it is gone. */
export async function readProcs(dir: string): Promise<number[]> {
  try {
    const text = await readFile(`${dir}/cgroup.procs`, "utf8");
    return text.split("\n").filter((line) => line !== "").map(Number);
  } catch {
    return [];
  }
}

/** Whether a cgroup2 directory still holds a live process, in it or below it. */
export async function isPopulated(dir: string): Promise<boolean> {
  return (await readKeyed(`${dir}/cgroup.events`)).get("populated") === 1;
}

/** Between two looks at a file whose watch the kernel refused. */
const REFUSED_WATCH_POLL_MS = 50;

/**
 * Calls `onChange` at each modification of `path`; where the kernel refuses the watch (the path
 * is gone, or the uid has no inotify instance left: any process of the server's uid can take them
 * all), every `REFUSED_WATCH_POLL_MS` instead. Bun throws the refusal from `watch`; Deno returns a
 * watcher and reports it later as an "error" event, which, unheard, would end the server.
 */
function watchOrPoll(path: string, onChange: () => void): { close(): void } {
  let closed = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  const poll = (): void => {
    if (closed || timer !== undefined) return;
    timer = setInterval(onChange, REFUSED_WATCH_POLL_MS);
    onChange();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path, onChange);
    watcher.on("error", poll);
  } catch {
    poll();
  }
  return {
    close() {
      closed = true;
      watcher?.close();
      clearInterval(timer);
    },
  };
}

/**
 * Resolves once the cgroup2 directory holds no live process (or is gone). The kernel signals every
 * change of `populated` as a modification of `cgroup.events`, so this waits on that event; the
 * watch starts before the first look so that no change falls between them.
 */
export async function untilEmpty(dir: string, signal: AbortSignal): Promise<void> {
  const changed = { wake: (): void => {} };
  const watcher = watchOrPoll(`${dir}/cgroup.events`, () => changed.wake());
  const aborted = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  try {
    while (!signal.aborted) {
      const next = new Promise<void>((resolve) => {
        changed.wake = resolve;
      });
      if (!(await isPopulated(dir))) return;
      await Promise.race([next, aborted]);
    }
  } finally {
    watcher.close();
  }
}

/** Removes a cgroup directory and every cgroup below it, deepest first; a missing one is fine. */
export async function removeTree(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return;
    throw error;
  }
  await Promise.all(entries.map((name) => removeTree(`${dir}/${name}`)));
  await removeDir(dir);
}

/**
 * Whether a control file failed because its cgroup is gone: removed (ENOENT), or removed while
 * the write ran (ENODEV, which the kernel answers for a cgroup that is dying).
 */
export function cgroupGone(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno === "ENOENT" || errno === "ENODEV";
}

/** Removes one empty cgroup directory; a missing one is fine. */
export async function removeDir(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (error) {
    if (errnoOf(error) !== "ENOENT") throw error;
  }
}
