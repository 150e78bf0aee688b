/**
 * A time limit on a start-up step that waits for a child (a probe): a child that hangs or is
 * stopped (SIGSTOP, an exec stuck on a dead network mount) must not keep the server from
 * listening, nor stay behind once the server has given up on it.
 */
import type { Runtime } from "../runtime/mod.ts";
import { signalGroup } from "./signal_group.ts";

/**
 * How long one start-up probe may take by default: generous, so that a loaded 2-core host never
 * reaches it (the probes take milliseconds there, seconds at worst), short enough that a hung one
 * is reported while the operator still watches.
 */
export const START_STEP_LIMIT_MS = 30_000;

const SIGKILL = 9;

/**
 * Waits for `work` (what a child `pid` leading its own process group owes: its exit, its output)
 * for at most `limitMs`; past that, kills the child's whole process group and resolves with null.
 * `reaped` says whether the child has been reaped by then (its number may be another's).
 */
export async function withinStepLimit<T>(
  runtime: Runtime,
  child: { readonly pid: number; readonly exited: Promise<unknown> },
  work: Promise<T>,
  limitMs: number,
): Promise<T | null> {
  let reaped = false;
  void child.exited.finally(() => {
    reaped = true;
  }).catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      signalGroup(runtime, child.pid, SIGKILL, reaped);
      resolve(null);
    }, limitMs);
  });
  return await Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** "30 s", "0.2 s": a limit as a log line or a reason states it. */
export function limitText(limitMs: number): string {
  return `${limitMs / 1000} s`;
}
