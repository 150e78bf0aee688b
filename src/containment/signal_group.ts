import type { Runtime } from "../runtime/mod.ts";

/**
 * Signals the process group a child leads. A child spawned through setsid(1) (Deno) leads its
 * group only once setsid() has run, a moment after the spawn returns: in that moment the group
 * does not exist (ESRCH), and the child itself, still the only process of its tree, gets the
 * signal. Once the child has been reaped (`leaderReaped`) its pid may name another process, so
 * only the group is tried.
 */
export function signalGroup(runtime: Runtime, pid: number, signal: number, leaderReaped: boolean): void {
  try {
    runtime.kill(-pid, signal);
    return;
  } catch {
    // No such group: not yet (the child itself is tried next), or no longer.
  }
  if (leaderReaped) return;
  try {
    runtime.kill(pid, signal);
  } catch {
    // It has exited since: nothing left to signal.
  }
}
