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
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

  test("a process-tree container still kills what its child's sandbox left, named by the child's start too", async () => {
    // A sandboxed command's daemon can cycle the pid counter (32,768 numbers on many hosts) so
    // that a process of its own takes the command's number as soon as the command is reaped: the
    // number then names a live process, and the exit kill left everything alone. A sandbox's
    // processes are named by the launch's pid and start time, which no later process shares.
    const child = spawn("sleep", ["60"], { stdio: "ignore" });
    const pid = child.pid ?? 0;
    const stat = await readFile(`/proc/${pid}/stat`, "latin1");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    const dir = await mkdtemp(join(tmpdir(), "reused-leader-"));
    // A process in a mount namespace whose root names the child's launch, as a sandbox's does.
    const member = spawn("unshare", [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `mount -t tmpfs exec-server-sandbox:${pid}:${start} ${dir} && echo ready && exec sleep 60`,
    ], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((ready) => member.stdout?.once("data", () => ready()));
      // Its own record: a container of an earlier case may still signal into the shared one.
      const signalled: Array<[number, number]> = [];
      const reused: Runtime = {
        kill: (target: number, signal: number) => {
          if (signal !== 0) signalled.push([target, signal]);
          else if (target !== pid) process.kill(target, 0);
        },
      } as unknown as Runtime;
      const container = await new ProcessTreeSession(reused, { watchdog: null }).create();
      container.started(pid, () => {});
      child.kill("SIGKILL");
      await new Promise((exited) => child.once("exit", exited));
      container.leaderReaped();
      container.signalAll(SIGKILL);
      while (signalled.length === 0) await findDescendants(process.pid);
      expect(signalled).toEqual([[member.pid ?? 0, SIGKILL]]);
    } finally {
      member.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
});
