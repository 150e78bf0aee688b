import type { Runtime } from "../runtime/mod.ts";

/**
 * Signals the process group a child leads. A child spawned through setsid(1) (Deno) leads its
 * group only once setsid() has run, a moment after the spawn returns: in that moment the group
 * does not exist (ESRCH), and the child itself, still the only process of its tree, gets the
 * signal. Once the child has been reaped (`leaderReaped`) its pid may name another process, so
 * only the group is tried, and only while no process carries the number (`numberReused`).
 */
export function signalGroup(runtime: Runtime, pid: number, signal: number, leaderReaped: boolean): void {
  if (leaderReaped && numberReused(runtime, pid)) return;
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

/**
 * Whether the number of a reaped child names a live process again. The kernel gives a number out
 * only when no process uses it as pid, group or session, so the group and session it names then
 * (every child the server starts leads both) are someone else's: another client's process, often.
 * While no process carries it, what the number names as a group is what the child left.
 */
export function numberReused(runtime: Runtime, reapedPid: number): boolean {
  try {
    runtime.kill(reapedPid, 0);
    return true;
  } catch (error) {
    // EPERM: a live process of another user.
    return !/ESRCH/.test(
      error instanceof Error ? `${error.message} ${String((error as { code?: unknown }).code)}` : "",
    );
  }
}
