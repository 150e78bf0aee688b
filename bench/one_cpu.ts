/**
 * Sequential round trips with the client and the server on one CPU.
 *
 * On the project's 2-vCPU VM a round trip between two processes on different CPUs pays two
 * cross-CPU wake-ups, about 15–17 µs each, on top of the work: the bare Bun WebSocket echo takes
 * 15 µs with both on CPU 0 and 50 µs apart, and which of the two the scheduler picks differs from
 * one measurement to the next (the floor read 19 µs in one run and 52 in the next). With both on
 * one CPU what is left is the servers' own cost, comparable between runs and between servers.
 * Linux only (taskset from util-linux); without it the figures are not measured.
 * @module
 */
import { spawnSync } from "node:child_process";

/** The CPU mask (hex, as taskset prints it) of `pid`, or null where taskset is missing or fails. */
function maskOf(pid: number): string | null {
  const result = spawnSync("taskset", ["-p", String(pid)], { encoding: "utf8" });
  if (result.status !== 0) return null;
  return /affinity mask:\s*([0-9a-f]+)/.exec(result.stdout)?.[1] ?? null;
}

/** Sets the mask of every thread of `pid`; false when taskset refuses. */
function setMask(pid: number, mask: string): boolean {
  return spawnSync("taskset", ["-a", "-p", mask, String(pid)], { encoding: "utf8" }).status === 0;
}

/**
 * Runs `measure` with every thread of the bench and of `serverPid` on CPU 0, then gives both
 * their masks back; null (and `measure` not run) where they cannot be moved.
 */
export async function onOneCpu<T>(serverPid: number, measure: () => Promise<T>): Promise<T | null> {
  const pids = [process.pid, serverPid];
  const masks = pids.map(maskOf);
  if (masks.some((mask) => mask === null)) return null;
  const moved: number[] = [];
  try {
    for (const pid of pids) {
      if (!setMask(pid, "1")) return null;
      moved.push(pid);
    }
    return await measure();
  } finally {
    moved.forEach((pid) => setMask(pid, masks[pids.indexOf(pid)] ?? "1"));
  }
}
