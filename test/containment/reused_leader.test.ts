/**
 * What is signalled for a child that has been reaped while its number names a live process again:
 * the kernel gives a number out only when no process uses it as pid, group or session, so by then
 * the group, the session and the children that the number names are someone else's (every child
 * the server starts leads a group of its own, so a reused number is often another client's
 * process). Here the "reused" number is a `sleep` the test starts, and the runtime records the
 * signals it is asked for (signal 0, the probe, goes to the kernel).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { findDescendants } from "../../src/containment/descendants.ts";
import { ProcessTreeSession, signalGroup } from "../../src/containment/mod.ts";
import type { Runtime } from "../../src/runtime/mod.ts";

const SIGKILL = 9;
const SIGTERM = 15;

describe("a reaped child whose number names a live process again", () => {
  let stranger: ChildProcess;
  let kills: Array<[number, number]>;
  let runtime: Runtime;

  beforeEach(async () => {
    // Its own group and session, as every child the server starts, with a child of its own there.
    stranger = spawn("sh", ["-c", "sleep 60 & wait"], { detached: true, stdio: "ignore" });
    while ((await findDescendants(stranger.pid ?? 0)).length === 0) {
      // The shell has not started its sleep yet: look again.
    }
    kills = [];
    runtime = {
      kill: (pid: number, signal: number) => {
        if (signal === 0) process.kill(pid, 0);
        else kills.push([pid, signal]);
      },
    } as unknown as Runtime;
  });

  afterEach(() => {
    process.kill(-(stranger.pid ?? 0), "SIGKILL");
  });

  test("signalGroup leaves the group that number leads alone", () => {
    signalGroup(runtime, stranger.pid ?? 0, SIGTERM, true);
    expect(kills).toEqual([]);
  });

  test("signalGroup still signals the group of a child that has not been reaped", () => {
    signalGroup(runtime, stranger.pid ?? 0, SIGTERM, false);
    expect(kills).toEqual([[-(stranger.pid ?? 0), SIGTERM]]);
  });

  test("a process-tree container signals nothing: not the group, not what the number's session holds", async () => {
    const container = await new ProcessTreeSession(runtime, { watchdog: null }).create();
    container.started(stranger.pid ?? 0, () => {});
    container.leaderReaped();
    container.signalAll(SIGKILL);
    // Scans asked for now run after any the container started; it signals what its scan found
    // after one more read of each found process's stat, far less than a whole scan.
    await findDescendants(process.pid);
    await findDescendants(process.pid);
    expect(kills).toEqual([]);
  });
});
