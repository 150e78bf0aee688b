import { describe, expect, test } from "bun:test";
import { encodeStdinArgs } from "../../src/launcher/mod.ts";
import type { WorkerLaunch } from "../../src/fs/fs_worker.ts";
import { SpareLaunchers } from "../../src/fs/spare_launchers.ts";
import type { ExitStatus, PipeChild, Runtime, SpawnPlan } from "../../src/runtime/mod.ts";

/** A started child that records what its stdin got; `exit` ends it. */
interface FakeChild extends PipeChild {
  readonly plan: SpawnPlan;
  readonly written: Uint8Array[];
  stdinClosed: boolean;
  exit(): void;
}

/** A runtime that only spawns fakes, and the children it spawned. */
function fakeRuntime(): { runtime: Runtime; children: FakeChild[] } {
  const children: FakeChild[] = [];
  const partial: Partial<Runtime> = {
    spawn: (plan) => {
      const exit = Promise.withResolvers<ExitStatus>();
      const child: FakeChild = {
        plan,
        pid: 1_000_000 + children.length,
        written: [],
        stdinClosed: false,
        stdout: new ReadableStream(),
        stderr: new ReadableStream(),
        stdin: {
          write: (data) => {
            child.written.push(data);
            return Promise.resolve();
          },
          close: () => {
            child.stdinClosed = true;
            return Promise.resolve();
          },
        },
        exited: exit.promise,
        exit: () => exit.resolve({ code: 120, signal: null }),
      };
      children.push(child);
      return Promise.resolve(child);
    },
  };
  // The spare launchers reach only spawn of the runtime.
  return { runtime: partial as Runtime, children };
}

function launchFor(roots: string[], env: Record<string, string> = { A: "1" }): WorkerLaunch {
  const flags = [
    ...roots.flatMap((root) => ["--write", root]),
    "--network",
    "off",
    "--",
    "/bun",
    "fs-worker",
  ];
  return {
    program: "/bun",
    args: ["launcher.js", "sandbox-exec", ...flags],
    env,
    cwd: "/",
    handoff: { spareArgs: ["launcher.js", "sandbox-exec", "--args-on-stdin"], stdinArgs: flags },
  };
}

/**
 * Lets the spares' promise callbacks run: a macrotask comes after every pending promise callback,
 * whatever the machine's load, so this waits for no time.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

describe("SpareLaunchers", () => {
  test("a prepared spare takes the next launch of its shape: its argv on stdin, and the next spare starts", async () => {
    const { runtime, children } = fakeRuntime();
    const spares = new SpareLaunchers(runtime);
    spares.prepare(launchFor([]));
    spares.prepare(launchFor(["/other"]));
    expect(children.map((child) => child.plan.args)).toEqual([[
      "launcher.js",
      "sandbox-exec",
      "--args-on-stdin",
    ]]);
    expect(children[0]?.plan).toMatchObject({ program: "/bun", env: { A: "1" }, cwd: "/", stdin: "pipe" });
    const launch = launchFor(["/w"]);
    const taken = await spares.take(launch, Promise.resolve());
    expect(taken).toBe(children[0] ?? null);
    expect(children[0]?.written).toEqual([encodeStdinArgs(launch.handoff?.stdinArgs ?? [])]);
    await settle();
    expect(children).toHaveLength(2);
    expect(children[1]?.written).toEqual([]);
    spares.close();
  });

  test("the next spare starts only once the taken worker is up (or has failed), not beside its start", async () => {
    const { runtime, children } = fakeRuntime();
    const spares = new SpareLaunchers(runtime);
    spares.prepare(launchFor([]));
    const up = Promise.withResolvers<void>();
    expect(await spares.take(launchFor(["/w"]), up.promise)).toBe(children[0] ?? null);
    await settle();
    expect(children).toHaveLength(1);
    up.resolve();
    await settle();
    expect(children).toHaveLength(2);

    const failed = Promise.withResolvers<void>();
    expect(await spares.take(launchFor(["/w"]), failed.promise)).toBe(children[1] ?? null);
    failed.reject(new Error("the worker could not start"));
    await settle();
    expect(children).toHaveLength(3);
    spares.close();
  });

  test("a launch of another shape gets no spare; the spare is dismissed by its stdin, and one of the new shape starts", async () => {
    const { runtime, children } = fakeRuntime();
    const spares = new SpareLaunchers(runtime);
    spares.prepare(launchFor([]));
    expect(await spares.take(launchFor(["/w"], { A: "2" }), Promise.resolve())).toBe(null);
    await settle();
    expect(children[0]?.stdinClosed).toBe(true);
    expect(children[0]?.written).toEqual([]);
    expect(children[1]?.plan.env).toEqual({ A: "2" });
    spares.close();
  });

  test("a spare that exited is not taken, and none starts after close", async () => {
    const { runtime, children } = fakeRuntime();
    const spares = new SpareLaunchers(runtime);
    spares.prepare(launchFor([]));
    children[0]?.exit();
    await settle();
    expect(await spares.take(launchFor(["/w"]), Promise.resolve())).toBe(null);
    await settle();
    expect(children).toHaveLength(2);
    spares.close();
    await settle();
    expect(children[1]?.stdinClosed).toBe(true);
    spares.prepare(launchFor([]));
    expect(await spares.take(launchFor([]), Promise.resolve())).toBe(null);
    await settle();
    expect(children).toHaveLength(2);
  });

  test("a launch without a handoff neither takes nor starts a spare", async () => {
    const { runtime, children } = fakeRuntime();
    const spares = new SpareLaunchers(runtime);
    const { handoff: _handoff, ...plain } = launchFor([]);
    spares.prepare(plain);
    expect(await spares.take(plain, Promise.resolve())).toBe(null);
    await settle();
    expect(children).toHaveLength(0);
  });
});
