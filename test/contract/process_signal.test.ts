import { describe, expect, test } from "bun:test";
import { RUNTIMES } from "../helpers/server.ts";
import { isAlive, waitUntilDead } from "../helpers/proc.ts";
import { CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe.each(RUNTIMES)("process/signal and process/terminate on %s", (runtime) => {
  const server = sharedServer(runtime, ["--kill-grace", "0.3"]);

  test.concurrent("process/signal interrupt ends a sleep with exit code 130", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("int", ["sleep", "30"], dir.uri));
    expect(await client.call("process/signal", { processId: "int", signal: "interrupt" })).toEqual({});
    expect(await client.untilClosed("int")).toEqual([
      { method: "process/exited", seq: 1, exitCode: 130, sandboxDenied: false },
      { method: "process/closed", seq: 2 },
    ]);
  });

  test.concurrent("signals sent the moment process/start answers reach every process", async () => {
    // The child becomes its own group leader a moment after the spawn returns (Deno runs it
    // through setsid(1)); a signal in that moment must still reach it. A lost one shows as exit 0.
    await using dir = await tempDir();
    await using client = await server().session();
    const cases = [
      ["interrupt", 130],
      ["terminate", 143],
      ["kill", 137],
      ["terminate the process", 137],
    ] as const;
    const ids = Array.from({ length: 12 }, (_, index) => `early-${index}`);
    const exits = await Promise.all(ids.map(async (id, index) => {
      const [signal] = cases[index % cases.length] ?? cases[0];
      await client.call("process/start", startParams(id, ["sleep", "8"], dir.uri));
      if (signal === "terminate the process") await client.call("process/terminate", { processId: id });
      else await client.call("process/signal", { processId: id, signal });
      const events = await client.untilClosed(id);
      return events.find((event) => event.method === "process/exited")?.exitCode;
    }));
    expect(exits).toEqual(ids.map((_, index) => (cases[index % cases.length] ?? cases[0])[1]));
  }, 20_000);

  test.concurrent.each([
    ["terminate", 143],
    ["kill", 137],
    ["hangup", 129],
    ["quit", 131],
    ["user1", 138],
    ["user2", 140],
    [15, 143],
    [9, 137],
  ])("process/signal %p gives exit code %d", async (signal, exitCode) => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("s", ["sleep", "30"], dir.uri));
    await client.call("process/signal", { processId: "s", signal });
    const events = await client.untilClosed("s");
    expect(events[0]).toEqual({ method: "process/exited", seq: 1, exitCode, sandboxDenied: false });
  });

  test.concurrent("process/signal reaches the whole process group", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.05; done"];
    await client.call("process/start", startParams("group", argv, dir.uri, { env: CHILD_PATH }));
    await client.waitForOutput("group", "ready");
    await client.call("process/signal", { processId: "group", signal: "user1" });
    await client.waitForOutput("group", "got-usr1");
    await client.call("process/terminate", { processId: "group" });
  });

  test.concurrent.each(["sigint", "INTERRUPT", "", 0, 32, 2.5, -1])(
    "process/signal refuses the signal %p",
    async (signal) => {
      await using client = await server().session();
      expect(await client.callError("process/signal", { processId: "any", signal })).toEqual({
        code: -32602,
        message: `unknown signal ${String(signal)}`,
        data: { kind: "InvalidParams" },
      });
    },
  );

  test.concurrent("process/signal answers {} for an unknown process", async () => {
    await using client = await server().session();
    expect(await client.call("process/signal", { processId: "ghost", signal: "interrupt" })).toEqual({});
  });

  test.concurrent("process/signal answers {} for a closed process", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("gone", ["true"], dir.uri));
    await client.untilClosed("gone");
    expect(await client.call("process/signal", { processId: "gone", signal: "kill" })).toEqual({});
  });

  test.concurrent("process/terminate of a running process answers running and it exits 137", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("t", ["sleep", "30"], dir.uri));
    expect(await client.call("process/terminate", { processId: "t" })).toEqual({ running: true });
    expect(await client.untilClosed("t")).toEqual([
      { method: "process/exited", seq: 1, exitCode: 137, sandboxDenied: false },
      { method: "process/closed", seq: 2 },
    ]);
  });

  test.concurrent("process/terminate after close answers running false", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("c", ["true"], dir.uri));
    await client.untilClosed("c");
    expect(await client.call("process/terminate", { processId: "c" })).toEqual({ running: false });
  });

  test.concurrent("process/terminate of an unknown id answers running false", async () => {
    await using client = await server().session();
    expect(await client.call("process/terminate", { processId: "ghost" })).toEqual({ running: false });
  });

  test.concurrent("process/terminate kills a grandchild in the process group", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "sleep 300 & echo $!; wait"];
    await client.call("process/start", startParams("tree", argv, dir.uri, { env: CHILD_PATH }));
    await client.waitForOutput("tree", "\n");
    const pid = Number(client.outputText("tree").trim());
    expect(await isAlive(pid)).toBe(true);
    expect(await client.call("process/terminate", { processId: "tree" })).toEqual({ running: true });
    await client.untilClosed("tree");
    await waitUntilDead(pid);
  });

  test.concurrent("process/terminate after exit releases a descendant that holds the output", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "sleep 300 & echo $!"];
    await client.call("process/start", startParams("held", argv, dir.uri, { env: CHILD_PATH }));
    await client.waitFor("held", (events) => events.some((event) => event.method === "process/exited"));
    const pid = Number(client.outputText("held").trim());
    expect(await client.call("process/terminate", { processId: "held" })).toEqual({ running: false });
    await client.untilClosed("held");
    await waitUntilDead(pid);
  });

  test.concurrent("process/start timeoutMs ends a sleep with 143 and timedOut, then closed", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("slow", ["sleep", "600"], dir.uri, { timeoutMs: 300 }));
    expect(await client.untilClosed("slow")).toEqual([
      { method: "process/exited", seq: 1, exitCode: 143, sandboxDenied: false, timedOut: true },
      { method: "process/closed", seq: 2 },
    ]);
    expect(await client.call("process/read", { processId: "slow" })).toEqual({
      chunks: [],
      nextSeq: 3,
      exited: true,
      exitCode: 143,
      closed: true,
      failure: null,
      sandboxDenied: false,
      droppedBytes: 0,
      timedOut: true,
    });
  });

  test.concurrent("process/start timeoutMs kills with SIGKILL after the grace when SIGTERM is ignored", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"];
    await client.call(
      "process/start",
      startParams("stubborn", argv, dir.uri, { env: CHILD_PATH, timeoutMs: 200 }),
    );
    const events = await client.untilClosed("stubborn");
    expect(events.find((event) => event.method === "process/exited")).toEqual({
      method: "process/exited",
      seq: 2,
      exitCode: 137,
      sandboxDenied: false,
      timedOut: true,
    });
  });

  test.concurrent("process/exited has no timedOut when the process ends before its timeout", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("quick", ["true"], dir.uri, { timeoutMs: 60_000 }));
    expect(await client.untilClosed("quick")).toEqual([
      { method: "process/exited", seq: 1, exitCode: 0, sandboxDenied: false },
      { method: "process/closed", seq: 2 },
    ]);
  });

  test.concurrent.each([0, -5, 1.5, 2147483648])("process/start refuses timeoutMs %p", async (timeoutMs) => {
    await using dir = await tempDir();
    await using client = await server().session();
    const error = await client.callError(
      "process/start",
      startParams("bad", ["true"], dir.uri, { timeoutMs }),
    );
    expect([error.code, error.data]).toEqual([-32602, { kind: "InvalidParams" }]);
  });
});

describe.each(RUNTIMES)("process/list on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("process/list lists the session's processes oldest first", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("a", ["true"], dir.uri));
    await client.untilClosed("a");
    await client.call("process/start", startParams("b", ["sleep", "30"], dir.uri, { tty: true }));
    const { processes } = (await client.call("process/list", {})) as { processes: Record<string, unknown>[] };
    // Usage is measured where the host has cgroups for it, and null elsewhere.
    const { extensions } = (await client.call("environment/info", null)) as {
      extensions: { containment: { usage: { peakMemory: boolean; cpuTime: boolean } } };
    };
    const usage = extensions.containment.usage;
    expect(
      processes.map((row): Record<string, unknown> => ({
        ...row,
        pid: typeof row["pid"],
        startedAtMs: typeof row["startedAtMs"],
        peakMemoryBytes: usage.peakMemory
          ? typeof row["peakMemoryBytes"] === "number"
          : row["peakMemoryBytes"] === null,
        cpuSeconds: usage.cpuTime ? typeof row["cpuSeconds"] === "number" : row["cpuSeconds"] === null,
      })),
    )
      .toEqual([
        {
          processId: "a",
          argv0: "true",
          state: "closed",
          tty: false,
          pid: "number",
          exitCode: 0,
          startedAtMs: "number",
          outputBytes: 0,
          peakMemoryBytes: true,
          cpuSeconds: true,
        },
        {
          processId: "b",
          argv0: "sleep",
          state: "running",
          tty: true,
          pid: "number",
          exitCode: null,
          startedAtMs: "number",
          outputBytes: 0,
          peakMemoryBytes: true,
          cpuSeconds: true,
        },
      ]);
    await client.call("process/terminate", { processId: "b" });
  });

  test.concurrent("process/list counts every output byte", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("out", ["echo", "hello"], dir.uri));
    await client.untilClosed("out");
    const { processes } = (await client.call("process/list", null)) as {
      processes: Record<string, unknown>[];
    };
    expect(processes.map((row) => row["outputBytes"])).toEqual([6]);
  });

  test.concurrent("process/list shows only the caller's session", async () => {
    await using dir = await tempDir();
    await using owner = await server().session();
    await using other = await server().session();
    await owner.call("process/start", startParams("mine", ["true"], dir.uri));
    expect(await other.call("process/list", {})).toEqual({ processes: [] });
  });
});
