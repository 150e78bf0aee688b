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
 * for at most `limitMs`; past that, or once `abort` fires (the server exits during start-up),
 * kills the child's whole process group, at once, and resolves with null.
 */
export async function withinStepLimit<T>(
  runtime: Runtime,
  child: { readonly pid: number; readonly exited: Promise<unknown> },
  work: Promise<T>,
  limitMs: number,
  abort?: AbortSignal,
): Promise<T | null> {
  let reaped = false;
  void child.exited.finally(() => {
    reaped = true;
  }).catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = (): void => {};
  const late = new Promise<null>((resolve) => {
    // Synchronous: an exit that follows the abort at once leaves nothing behind.
    const end = (): void => {
      signalGroup(runtime, child.pid, SIGKILL, reaped);
      resolve(null);
    };
    timer = setTimeout(end, limitMs);
    onAbort = end;
    if (abort?.aborted === true) end();
    else abort?.addEventListener("abort", end, { once: true });
  });
  return await Promise.race([work, late]).finally(() => {
    clearTimeout(timer);
    abort?.removeEventListener("abort", onAbort);
  });
}

/** "30 s", "0.2 s": a limit as a log line or a reason states it. */
export function limitText(limitMs: number): string {
  return `${limitMs / 1000} s`;
}
