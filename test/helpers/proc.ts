import { readdir, readFile } from "node:fs/promises";

/** A process's state letter from `/proc/<pid>/stat`, or null when the pid is gone. */
export async function processState(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? null;
  } catch {
    return null;
  }
}

/**
 * Resolves once `pid` is gone or a zombie: PID 1 on these machines reaps orphans slowly, so a
 * zombie counts as dead (RUNTIME.md). Polls /proc, the only place the fact can be observed.
 */
export async function waitUntilDead(pid: number): Promise<void> {
  for (;;) {
    const state = await processState(pid);
    if (state === null || state === "Z" || state === "X") return;
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether `pid` is alive (exists and is not a zombie). */
export async function isAlive(pid: number): Promise<boolean> {
  const state = await processState(pid);
  return state !== null && state !== "Z" && state !== "X";
}

/** The live processes whose command line contains `text`, as `pid: command line` lines. */
export async function processesWithArgument(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline: string;
    try {
      cmdline = (await readFile(`/proc/${name}/cmdline`, "latin1")).replaceAll("\0", " ").trim();
    } catch {
      continue;
    }
    if (cmdline.includes(text) && (await isAlive(Number(name)))) found.push(`${name}: ${cmdline}`);
  }
  return found;
}

/**
 * Reads `look` until `done` holds or `timeoutMs` has passed, and returns the last reading. For
 * facts only /proc or /sys show (a process's end, a cgroup's removal), which no event announces
 * to an unrelated process.
 */
export async function pollUntil<T>(
  look: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await look();
    if (done(value) || Date.now() >= deadline) return value;
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Waits until no live process has `text` in its command line, for at most `timeoutMs`, and
 * returns the survivors (empty when all are gone).
 */
export function survivorsAfter(text: string, timeoutMs: number): Promise<string[]> {
  return pollUntil(() => processesWithArgument(text), (found) => found.length === 0, timeoutMs);
}

/** Every live descendant of `pid`, read from each thread's `children` in /proc. */
export async function descendants(pid: number): Promise<number[]> {
  let tasks: string[];
  try {
    tasks = await readdir(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children = new Set<number>();
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, "latin1").catch(() => "");
    for (const child of text.trim().split(/\s+/).filter(Boolean)) children.add(Number(child));
  }
  const below = await Promise.all([...children].map(descendants));
  return [...children, ...below.flat()];
}

/** The live (not zombie) children of `parent`, each with its arguments and its command line spaced. */
export async function childrenOf(
  parent: number,
): Promise<{ pid: number; argv: string[]; cmdline: string }[]> {
  const children = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, "latin1");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) !== parent || state === "Z") continue;
      const argv = (await readFile(`/proc/${name}/cmdline`, "latin1")).split("\0");
      children.push({ pid: Number(name), argv, cmdline: argv.join(" ") });
    } catch {
      // Gone in between.
    }
  }
  return children;
}
