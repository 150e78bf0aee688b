/**
 * What a process's cgroup container signals once its child has been reaped: the child's pid, and
 * the process group it led, may name another process by then (every spawned child leads a group,
 * and so does each test worker), while everything the child left behind is still in its cgroup.
 * The cgroup's files are plain files here and the runtime only records the signals it is asked for.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { CgroupContainer } from "../../src/containment/cgroup_container.ts";
import type { TreeContext } from "../../src/containment/cgroup_container.ts";
import { NO_LIMITS } from "../../src/containment/mod.ts";
import type { Runtime } from "../../src/runtime/mod.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import type { TempDir } from "../helpers/temp_dir.ts";

const SIGKILL = 9;
const SIGTERM = 15;
const CHILD = 4242;
/** A process that is still in the cgroup (the child's descendant). */
const MEMBER = 4343;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("CgroupContainer after its child was reaped", () => {
  let dir: TempDir;
  let kills: Array<[number, number]>;
  /** What the container reported as failed: a signal that went nowhere ends the wait too. */
  let errors: string[];
  let container: CgroupContainer;

  beforeEach(async () => {
    dir = await tempDir();
    kills = [];
    errors = [];
    await writeFile(`${dir.path}/cgroup.procs`, `${MEMBER}\n`);
    await writeFile(`${dir.path}/cgroup.kill`, "");
    // Only `kill` is reached on these paths; the rest of the runtime stays out of the test.
    const runtime = {
      kill: (pid: number, signal: number) => void kills.push([pid, signal]),
    } as unknown as Runtime;
    const context = {
      runtime,
      cpus: 2,
      onError: (message: string, error: unknown) => void errors.push(`${message}: ${String(error)}`),
    } as unknown as TreeContext;
    container = new CgroupContainer(context, { unified: dir.path, memory: null, pids: null }, NO_LIMITS);
    container.started(CHILD, () => {});
    container.leaderReaped();
  });

  afterEach(async () => {
    await dir[Symbol.asyncDispose]();
  });

  test("SIGKILL goes to the cgroup alone, not to the reaped child's group", async () => {
    container.signalAll(SIGKILL);
    while (errors.length === 0 && (await readFile(`${dir.path}/cgroup.kill`, "utf8")) !== "1") await pause(5);
    expect({ kills, errors }).toEqual({ kills: [], errors: [] });
  });

  test("another signal goes to the cgroup's members alone", async () => {
    container.signalAll(SIGTERM);
    while (errors.length === 0 && kills.length === 0) await pause(5);
    expect({ kills, errors }).toEqual({ kills: [[MEMBER, SIGTERM]], errors: [] });
  });
});
