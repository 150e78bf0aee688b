import { readFile } from "node:fs/promises";

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
