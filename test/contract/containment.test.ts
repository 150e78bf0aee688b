import { describe, expect, test } from "bun:test";
import { randomInt } from "node:crypto";
import { spawn } from "node:child_process";
import { chown, mkdir, readdir, readFile, readlink, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findCgroupPlaces } from "../../src/containment/mod.ts";
import { cgroupsLeftAfter, cgroupsOfServer } from "../helpers/cgroups.ts";
import { pollUntil, processesWithArgument, survivorsAfter, waitUntilDead } from "../helpers/proc.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { NOBODY, startUnprivileged } from "../helpers/unprivileged_server.ts";
import { CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { anyThreadAlive, zombieLeaderDaemon } from "../helpers/zombie_leader.ts";
import type { TestClient } from "../helpers/client.ts";

/** How long a killed tree may take to be gone. */
const GONE_WITHIN_MS = 10_000;

/**
 * A marker no other process on the machine has in its command line: `sleep` takes it as a
 * duration (`sleep 900.<seed>`), so survivors can be found by their arguments. The seed shows in
 * every failure, which lists the survivors' command lines.
 */
function marker(): string {
  return `${randomInt(100_000_000, 999_999_999)}`;
}

/**
 * A process whose grandchild left the tree: the middle shell starts `setsid sleep` and exits, so
 * the grandchild is in a session of its own and reparented to init, and the process itself
 * lives on. Resolves once the grandchild is running.
 */
async function startEscapee(client: TestClient, processId: string, seed: string, cwd: string): Promise<void> {
  const script =
    `sh -c 'setsid sleep 901.${seed} > /dev/null 2>&1 < /dev/null & echo started'; exec sleep 902.${seed}`;
  await client.call("process/start", startParams(processId, ["sh", "-c", script], cwd, { env: CHILD_PATH }));
  await client.waitForOutput(processId, "started");
}

/**
 * Waits (at most 10 s) until `count` live processes other than shells carry `text` in their
 * command line, and returns how many do: the shells that start them carry it for a moment too.
 */
async function untilAtLeast(text: string, count: number): Promise<number> {
  const programs = async (): Promise<string[]> =>
    (await processesWithArgument(text)).filter((line) => !/^\d+: (\S*\/)?(sh|dash) /.test(line));
  return (await pollUntil(programs, (found) => found.length >= count, GONE_WITHIN_MS)).length;
}

/** One `process/list` row's figures. */
interface Figures {
  readonly peakMemoryBytes: number | null;
  readonly cpuSeconds: number | null;
}

/** The figures of `processId`'s row in `process/list`. */
async function figuresOf(client: TestClient, processId: string): Promise<Figures> {
  const { processes } = (await client.call("process/list", {})) as { processes: Record<string, unknown>[] };
  const row = processes.find((entry) => entry["processId"] === processId);
  if (row === undefined) throw new Error(`no row for ${processId}`);
  return {
    peakMemoryBytes: row["peakMemoryBytes"] as number | null,
    cpuSeconds: row["cpuSeconds"] as number | null,
  };
}

/** The unified cgroup directory a process printed with `cat /proc/self/cgroup`. */
async function unifiedDirIn(output: string): Promise<string> {
  const path = /^0::(\/\S*)$/m.exec(output)?.[1];
  const mount = (await findCgroupPlaces()).unified?.mount;
  if (path === undefined || mount === undefined) {
    throw new Error(`no unified cgroup in ${JSON.stringify(output)}`);
  }
  return `${mount}${path}`;
}

/** Whether a path exists. */
async function exists(path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false);
}

describe.each(RUNTIMES)("containment and limits on %s", (runtime) => {
  const server = sharedServer(runtime, ["--session-ttl", "0.5", "--default-pids", "16"]);

  test.concurrent("process/terminate kills a setsid grandchild whose parent has exited", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const seed = marker();
    await startEscapee(client, "escapee", seed, dir.uri);
    expect(await client.call("process/terminate", { processId: "escapee" })).toEqual({ running: true });
    await client.untilClosed("escapee");
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
  });

  test.concurrent("session expiry kills a setsid grandchild whose parent has exited", async () => {
    await using dir = await tempDir();
    const seed = marker();
    {
      await using client = await server().session();
      await startEscapee(client, "escapee", seed, dir.uri);
    }
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
  });

  test.concurrent("session expiry kills what a closed process left running", async () => {
    await using dir = await tempDir();
    const seed = marker();
    {
      await using client = await server().session();
      const script = `setsid sleep 903.${seed} > /dev/null 2>&1 < /dev/null &`;
      await client.call(
        "process/start",
        startParams("daemon", ["sh", "-c", script], dir.uri, { env: CHILD_PATH }),
      );
      await client.untilClosed("daemon");
      // The shell may exit while its child is inside execve, when /proc shows it with an empty
      // command line (the new image has not set its arguments yet): wait for the program.
      expect(await untilAtLeast(seed, 1)).toBe(1);
    }
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
  });

  test.concurrent("a fork bomb under a pids limit is contained and the server keeps serving", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await using other = await server().session();
    const seed = marker();
    // Every process forks every 10 ms for ever, ignoring failures: 32 live processes in 50 ms,
    // without burning the CPUs the rest of the suite needs.
    const bomb = ["perl", "-e", "while (1) { fork; select(undef, undef, undef, 0.01) }", `904.${seed}`];
    await client.call(
      "process/start",
      startParams("bomb", bomb, dir.uri, { env: CHILD_PATH, limits: { pids: 32 } }),
    );
    expect(await untilAtLeast(seed, 16)).toBeGreaterThanOrEqual(16);
    // While the bomb pushes against its limit, another session starts and finishes a process.
    await other.call("process/start", startParams("echo", ["echo", "still serving"], dir.uri));
    await other.untilClosed("echo");
    expect(other.outputText("echo")).toBe("still serving\n");
    expect((await survivorsAfter(seed, 0)).length).toBeLessThanOrEqual(32);
    expect(await client.call("process/terminate", { processId: "bomb" })).toEqual({ running: true });
    const exited = (await client.untilClosed("bomb")).find((event) => event.method === "process/exited");
    expect(exited).toMatchObject({ exitCode: 137 });
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
  });

  test.concurrent("environmentInfo advertises the limits this host enforces", async () => {
    await using client = await server().session();
    const info = (await client.call("environment/info", null)) as {
      extensions: { processStart: Record<string, boolean>; containment: Record<string, unknown> };
    };
    expect(info.extensions.processStart).toEqual({ size: true, timeoutMs: true, limits: true });
    expect(info.extensions.containment).toEqual({
      backend: "cgroup",
      layout: expect.stringMatching(/^(unified|hybrid)$/),
      limits: { memoryBytes: true, pids: true, cpuSeconds: true },
      defaultLimits: { pids: 16 },
      usage: { peakMemory: true, cpuTime: true },
      watchdog: true,
    });
  });

  test.concurrent("the server's default limit holds for a process whose request sets none", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const script = "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 0.1 & done; wait";
    await client.call(
      "process/start",
      startParams("many", ["sh", "-c", script], dir.uri, { env: CHILD_PATH }),
    );
    const events = await client.untilClosed("many");
    expect(events.find((event) => event.method === "process/exited")).toMatchObject({
      exitCode: 2,
      failure: "pids limit of 16 reached",
    });
  });

  test.concurrent("a request's limit overrides the server's default", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const script = "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 0.1 & done; wait";
    const limits = { pids: 64 };
    await client.call(
      "process/start",
      startParams("many", ["sh", "-c", script], dir.uri, { env: CHILD_PATH, limits }),
    );
    const events = await client.untilClosed("many");
    expect(events.find((event) => event.method === "process/exited")).toEqual({
      method: "process/exited",
      seq: 1,
      exitCode: 0,
      sandboxDenied: false,
    });
  });

  test.concurrent("a memory limit ends a process that allocates past it", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    // tail keeps the whole of an endless line in memory.
    const limits = { memoryBytes: 32 * 1024 * 1024 };
    await client.call(
      "process/start",
      startParams("hog", ["tail", "/dev/zero"], dir.uri, { env: CHILD_PATH, limits }),
    );
    const events = await client.untilClosed("hog");
    const failure = "memory limit of 33554432 bytes exceeded";
    expect(events.find((event) => event.method === "process/exited")).toEqual({
      method: "process/exited",
      seq: 1,
      exitCode: 137,
      sandboxDenied: false,
      failure,
    });
    expect(await client.call("process/read", { processId: "hog" })).toMatchObject({ exitCode: 137, failure });
  });

  test.concurrent("a memory limit ends the whole tree, not only the process that allocated past it", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const seed = marker();
    // The shell outlives the `tail` that allocates, as it does wherever the kernel kills only the
    // largest process of the cgroup (a v1 memory cgroup), and then sleeps.
    const script = `tail /dev/zero; echo survived; exec sleep 905.${seed}`;
    const limits = { memoryBytes: 32 * 1024 * 1024 };
    await client.call(
      "process/start",
      startParams("tree", ["sh", "-c", script], dir.uri, { env: CHILD_PATH, limits }),
    );
    const events = await client.untilClosed("tree");
    expect(events.find((event) => event.method === "process/exited")).toMatchObject({
      exitCode: 137,
      failure: "memory limit of 33554432 bytes exceeded",
    });
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
  });

  test.concurrent("a memory limit's kill ends the background jobs of a shell that exits 0 at once", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const seed = marker();
    // The job holds no output, so the process closes with the shell, before the kill may be read.
    const script = `tail /dev/zero; sleep 906.${seed} < /dev/null > /dev/null 2>&1 & exit 0`;
    const limits = { memoryBytes: 32 * 1024 * 1024 };
    await client.call(
      "process/start",
      startParams("quick", ["sh", "-c", script], dir.uri, { env: CHILD_PATH, limits }),
    );
    await client.untilClosed("quick");
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
  });

  test.concurrent("a CPU time limit ends a busy process", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const limits = { cpuSeconds: 0.3 };
    await client.call(
      "process/start",
      startParams("spin", ["sh", "-c", "while :; do :; done"], dir.uri, { limits }),
    );
    const events = await client.untilClosed("spin");
    const failure = "cpu time limit of 0.3 seconds exceeded";
    expect(events.find((event) => event.method === "process/exited")).toMatchObject({
      exitCode: 137,
      failure,
    });
    const { processes } = (await client.call("process/list", {})) as { processes: Record<string, unknown>[] };
    expect(processes[0]?.["cpuSeconds"]).toBeGreaterThanOrEqual(0.3);
  });

  test.concurrent("process/list reports the peak memory and CPU time of a closed process", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call(
      "process/start",
      startParams("work", ["head", "-c", "4000000", "/dev/zero"], dir.uri, {
        env: CHILD_PATH,
      }),
    );
    await client.untilClosed("work");
    const { processes } = (await client.call("process/list", {})) as { processes: Record<string, unknown>[] };
    expect(processes[0]?.["peakMemoryBytes"]).toBeGreaterThan(0);
    expect(processes[0]?.["cpuSeconds"]).toBeGreaterThan(0);
  });

  test.concurrent("a list keeps the figures of a closed process whose tree has ended, and its cgroup goes", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const script = "cat /proc/self/cgroup; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done";
    await client.call(
      "process/start",
      startParams("work", ["sh", "-c", script], dir.uri, { env: CHILD_PATH }),
    );
    await client.untilClosed("work");
    const cgroup = await unifiedDirIn(client.outputText("work"));
    const figures = await figuresOf(client, "work");
    expect(figures.peakMemoryBytes).toBeGreaterThan(0);
    expect(figures.cpuSeconds).toBeGreaterThan(0);
    // The list that found the tree ended removes the cgroup, before the retention (30 s) ends: the
    // figures outlive it.
    expect(await pollUntil(() => exists(cgroup), (found) => !found, GONE_WITHIN_MS)).toBe(false);
    expect(await figuresOf(client, "work")).toEqual(figures);
  });

  test.concurrent("a closed process's figures grow while a descendant runs, and stay once it has ended", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const stop = join(dir.path, "stop");
    // The loop holds no output, so the process closes while the loop spins on in its cgroup.
    const script =
      `cat /proc/self/cgroup; (while [ ! -e ${stop} ]; do :; done) < /dev/null > /dev/null 2>&1 & echo "loop $!"`;
    await client.call(
      "process/start",
      startParams("parent", ["sh", "-c", script], dir.uri, { env: CHILD_PATH }),
    );
    await client.untilClosed("parent");
    const output = client.outputText("parent");
    const cgroup = await unifiedDirIn(output);
    const loop = Number(/^loop (\d+)$/m.exec(output)?.[1]);
    const first = await figuresOf(client, "parent");
    const grown = await pollUntil(
      () => figuresOf(client, "parent"),
      (figures) => (figures.cpuSeconds ?? 0) > (first.cpuSeconds ?? 0) + 0.05,
      GONE_WITHIN_MS,
    );
    expect(grown.cpuSeconds).toBeGreaterThan((first.cpuSeconds ?? 0) + 0.05);
    expect(await exists(cgroup)).toBe(true);
    await writeFile(stop, "");
    await waitUntilDead(loop);
    // The next list finds the tree ended: it keeps the figures and the cgroup goes.
    expect(
      await pollUntil(
        async () => {
          await figuresOf(client, "parent");
          return await exists(cgroup);
        },
        (found) => !found,
        GONE_WITHIN_MS,
      ),
    ).toBe(false);
    const last = await figuresOf(client, "parent");
    expect(last.cpuSeconds).toBeGreaterThanOrEqual(grown.cpuSeconds ?? 0);
    expect(last.peakMemoryBytes).toBeGreaterThan(0);
    expect(await figuresOf(client, "parent")).toEqual(last);
  });

  test.concurrent.each([
    [{ pids: 0 }, "invalid params for process/start: limits.pids: must be at least 1"],
    [
      { memoryBytes: 1.5 },
      "invalid params for process/start: limits.memoryBytes: expected int, got a fraction",
    ],
    [{ cpuSeconds: 0 }, "invalid params for process/start: limits.cpuSeconds: must be at least 0.01"],
  ])("process/start refuses limits %p", async (limits, message) => {
    await using dir = await tempDir();
    await using client = await server().session();
    expect(await client.callError("process/start", startParams("bad", ["true"], dir.uri, { limits })))
      .toEqual({
        code: -32602,
        message,
        data: { kind: "InvalidParams" },
      });
  });
});

describe.each(RUNTIMES)("the server's own end on %s", (runtime) => {
  test("SIGTERM of the server kills a setsid grandchild whose parent has exited", async () => {
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    await using client = await server.session();
    const seed = marker();
    await startEscapee(client, "escapee", seed, dir.uri);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
    expect(await cgroupsOfServer(server.child.pid ?? 0)).toEqual([]);
  });

  test("after SIGKILL of the server no process it started is alive and no cgroup is left", async () => {
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    await using client = await server.session();
    const seed = marker();
    await startEscapee(client, "escapee", seed, dir.uri);
    const daemon = `setsid sleep 903.${seed} > /dev/null 2>&1 < /dev/null &`;
    await client.call(
      "process/start",
      startParams("daemon", ["sh", "-c", daemon], dir.uri, { env: CHILD_PATH }),
    );
    await client.call(
      "process/start",
      startParams("plain", ["sleep", `904.${seed}`], dir.uri, { env: CHILD_PATH }),
    );
    await client.call("process/start", startParams("tty", ["sleep", `905.${seed}`], dir.uri, { tty: true }));
    const doubleFork = `(sleep 906.${seed} &) ; exec sleep 907.${seed}`;
    await client.call(
      "process/start",
      startParams("fork", ["sh", "-c", doubleFork], dir.uri, { env: CHILD_PATH }),
    );
    // The escapee's two sleeps, the daemon, the plain and terminal sleeps, and the double fork's two.
    expect(await untilAtLeast(seed, 7)).toBe(7);
    server.child.kill("SIGKILL");
    await server.exited;
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
    expect(await cgroupsLeftAfter(server.child.pid ?? 0, GONE_WITHIN_MS)).toEqual([]);
  });

  test("a starting server kills and removes what a dead server left before it serves", async () => {
    // A pid above the kernel's pid_max names a server that cannot be running.
    const name = `exec-server.999999999.${marker()}`;
    const places = await findCgroupPlaces();
    const parents = [places.unified, places.v1.get("memory")].flatMap((place) => place ? [place.dir] : []);
    const dirs = parents.map((parent) => join(parent, name, "s1", "p1"));
    const seed = marker();
    const orphan = spawn("sleep", [`911.${seed}`], { detached: true, stdio: "ignore" });
    orphan.unref();
    expect(await untilAtLeast(seed, 1)).toBe(1);
    // Joined once it runs: a server another test file starts meanwhile sweeps a dead server's
    // cgroups too, and may kill the sleep and remove them first; what follows holds either way.
    await joinCgroups(dirs, orphan.pid ?? 0);
    await using server = await startServer({ runtime });
    expect(await survivorsAfter(seed, 0)).toEqual([]);
    const left = await Promise.all(
      parents.map((parent) => stat(join(parent, name)).then(() => parent, () => null)),
    );
    expect(left.filter((parent) => parent !== null)).toEqual([]);
    expect(server.url).toStartWith("ws://");
  });
});

/**
 * Makes each of `dirs` and moves `pid` into it; a directory swept away in between (by a starting
 * server) is made again, and a pid that is gone already (swept with it) ends the joining.
 */
async function joinCgroups(dirs: string[], pid: number): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 1;; attempt++) {
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, "cgroup.procs"), `${pid}\n`);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ESRCH") return;
        if (code !== "ENOENT" || attempt === 5) throw error;
      }
    }
  }
}

describe.each(RUNTIMES)("an unprivileged server on %s", (runtime) => {
  test("falls back to process groups, refuses limits, and its watchdog acts on SIGKILL", async () => {
    await using dir = await tempDir();
    await using server = await startUnprivileged(runtime, dir.path);
    await using client = await server.session();
    const info = (await client.call("environment/info", null)) as { extensions: { containment: unknown } };
    expect(info.extensions.containment).toEqual({
      backend: "processTree",
      layout: null,
      limits: { memoryBytes: false, pids: false, cpuSeconds: false },
      defaultLimits: {},
      usage: { peakMemory: false, cpuTime: false },
      watchdog: true,
      reason: expect.stringMatching(/^cannot create a cgroup in \/.*: Permission denied \(os error 13\)$/),
    });
    const limits = { memoryBytes: 64 * 1024 * 1024 };
    expect(await client.callError("process/start", startParams("limited", ["true"], dir.uri, { limits })))
      .toEqual({
        code: -32602,
        message: expect.stringMatching(
          /^limits\.memoryBytes cannot be enforced on this host: cannot create a cgroup/,
        ),
        data: { kind: "Unenforceable" },
      });
    const seed = marker();
    await client.call(
      "process/start",
      startParams("plain", ["sleep", `908.${seed}`], dir.uri, { env: CHILD_PATH }),
    );
    await client.call("process/start", startParams("tty", ["sleep", `909.${seed}`], dir.uri, { tty: true }));
    expect(await untilAtLeast(seed, 2)).toBe(2);
    server.child.kill("SIGKILL");
    await server.exited;
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
  });

  test("its watchdog kills, on SIGKILL, a sandboxed daemon that left the session and lost its parent", async () => {
    await using dir = await tempDir();
    await using server = await startUnprivileged(runtime, dir.path);
    await using client = await server.session();
    const seed = marker();
    const sandbox = managedSandbox({ read: [dir.uri] });
    const script = `(setsid sleep 910.${seed} </dev/null >/dev/null 2>&1 &); exec sleep 911.${seed}`;
    await client.call(
      "process/start",
      startParams("sandboxed", ["sh", "-c", script], dir.uri, { env: CHILD_PATH, sandbox }),
    );
    expect(await untilAtLeast(seed, 2)).toBe(2);
    server.child.kill("SIGKILL");
    await server.exited;
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
  });

  test("its watchdog kills, on SIGKILL, a sandboxed daemon whose leader thread ended alone", async () => {
    await using dir = await tempDir();
    await using server = await startUnprivileged(runtime, dir.path);
    await using client = await server.session();
    const pidFile = join(dir.path, "daemon.pid");
    // The command lives on, so that only the watchdog can end the daemon.
    const argv = ["sh", "-c", '"$@" && exec sleep 60', "sh", ...zombieLeaderDaemon(pidFile)];
    await client.call(
      "process/start",
      startParams("sandboxed", argv, dir.uri, {
        env: CHILD_PATH,
        sandbox: managedSandbox({ write: [dir.uri] }),
      }),
    );
    const pid = Number(
      await pollUntil(() => readFile(pidFile, "utf8").catch(() => ""), (text) => text !== "", GONE_WITHIN_MS),
    );
    server.child.kill("SIGKILL");
    await server.exited;
    expect(await pollUntil(() => anyThreadAlive(pid), (alive) => !alive, GONE_WITHIN_MS)).toBe(false);
  });

  test("its shutdown kills a sandboxed daemon that its closed process left behind", async () => {
    await using dir = await tempDir();
    await using server = await startUnprivileged(runtime, dir.path);
    await using client = await server.session();
    const seed = marker();
    // The process exits once the test has seen its daemon run: a sandboxed process's exit kills
    // its sandbox's processes too, which could otherwise end the daemon before it is seen.
    const script = `(setsid sleep 912.${seed} </dev/null >/dev/null 2>&1 &); read go`;
    await client.call(
      "process/start",
      startParams("sandboxed", ["sh", "-c", script], dir.uri, {
        env: CHILD_PATH,
        pipeStdin: true,
        sandbox: managedSandbox({ read: [dir.uri] }),
      }),
    );
    expect(await untilAtLeast(seed, 1)).toBe(1);
    await client.call("process/closeStdin", { processId: "sandboxed" });
    await client.untilClosed("sandboxed");
    server.child.kill("SIGTERM");
    await server.exited;
    expect(await survivorsAfter(seed, GONE_WITHIN_MS)).toEqual([]);
  });

  test("an expired session gives back the slot and the pipes of a process whose daemon it cannot reach", async () => {
    await using dir = await tempDir();
    await using server = await startUnprivileged(runtime, dir.path, [
      "--session-ttl",
      "0.5",
      "--max-processes",
      "1",
    ]);
    const seed = marker();
    try {
      for (const tty of [false, true]) {
        // The daemon keeps the process's output (pipes or terminal): it left the session and lost
        // its parent, so no kill of an unprivileged server reaches it (protocol.md §11.9), and the
        // process closes only when its output ends.
        // It has left the group once it has written its pid: a terminal's hangup of the group at
        // the exit would end it before.
        const pidFile = join(dir.path, `daemon${Number(tty)}.pid`);
        const script = `(setsid sh -c 'echo $$ > ${pidFile}; exec sleep 913.${seed}' &); ` +
          `until [ -s ${pidFile} ]; do sleep 0.01; done`;
        {
          await using client = await server.session();
          await client.call(
            "process/start",
            startParams("held", ["sh", "-c", script], dir.uri, { env: CHILD_PATH, tty }),
          );
          await client.waitFor("held", (events) => events.some((event) => event.method === "process/exited"));
        }
        const daemon = Number(await readFile(pidFile, "utf8"));
        const output = await readlink(`/proc/${daemon}/fd/1`);
        await using other = await server.session();
        // Another client's start is refused while the expired session's process still counts.
        const started = await pollUntil(
          () => other.request("process/start", startParams("after", ["true"], dir.uri)),
          (reply) => reply["error"] === undefined,
          GONE_WITHIN_MS,
        );
        expect(started["error"]).toBeUndefined();
        await other.untilClosed("after");
        const serverEnds = await Promise.all(
          (await readdir(`/proc/${server.child.pid}/fd`)).map((fd) =>
            readlink(`/proc/${server.child.pid}/fd/${fd}`).catch(() => "")
          ),
        );
        expect(serverEnds).not.toContain(output);
      }
    } finally {
      for (const line of await processesWithArgument(seed)) {
        process.kill(Number(line.split(":")[0]), "SIGKILL");
      }
    }
  });

  test("starts beside a dead server's cgroups that it may not remove", async () => {
    // A root server that has just died leaves root's cgroups for a moment; a server of another
    // user sees a dead owner's tree it cannot kill or remove, and must start all the same.
    const name = `exec-server.999999999.${marker()}`;
    const places = await findCgroupPlaces();
    const parents = [places.unified, places.v1.get("memory"), places.v1.get("pids")]
      .flatMap((place) => place ? [place.dir] : []);
    const trees = parents.map((parent) => join(parent, name));
    try {
      for (const tree of trees) await mkdir(join(tree, "s1"), { recursive: true });
      await using dir = await tempDir();
      await using server = await startUnprivileged(runtime, dir.path);
      expect(server.url).toStartWith("ws://");
    } finally {
      // A root server another test file starts meanwhile may have swept them already.
      for (const tree of trees) {
        await rmdir(join(tree, "s1")).catch(() => {});
        await rmdir(tree).catch(() => {});
      }
    }
  });

  test("starts beside a dead server's state directory that it cannot empty", async () => {
    // Its own, by name and owner, but holding a directory of root's: the removal fails part way.
    const stale = join(tmpdir(), `exec-server-999999999-${marker().slice(0, 6)}`);
    try {
      await mkdir(join(stale, "roots"), { recursive: true });
      await writeFile(join(stale, "roots", "file"), "");
      await chown(stale, NOBODY, NOBODY);
      await using dir = await tempDir();
      await using server = await startUnprivileged(runtime, dir.path);
      expect(server.url).toStartWith("ws://");
    } finally {
      await rm(stale, { recursive: true, force: true });
    }
  });

  test("refuses to start with a default limit it cannot enforce", async () => {
    await using dir = await tempDir();
    const started = startUnprivileged(runtime, dir.path, ["--default-memory-bytes", "67108864"]);
    expect(await started.then(() => "started", (error: unknown) => String(error))).toMatch(
      /server exited with 2 before its URL: exec-server: --default-memory-bytes: this host cannot enforce it \(cannot create a cgroup in .*\)\n$/,
    );
  });
});
