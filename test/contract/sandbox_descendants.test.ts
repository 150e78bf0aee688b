/**
 * A sandboxed command's descendants end with it, as in the Codex reference, whose sandbox gives
 * every command a PID namespace that the kernel empties when the command exits: a background job
 * neither writes after the exit nor holds `closed` back, and one that left the process group
 * (`setsid`) dies too. Codex under `workspace-write` then reports such a command as exited, not as
 * a session still running. Unsandboxed commands keep their descendants (§5.4). Bun and Deno.
 */
import { describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { RUNTIMES } from "../helpers/server.ts";
import { startUnprivileged } from "../helpers/unprivileged_server.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { anyThreadAlive, undumpableDaemon, zombieLeaderDaemon } from "../helpers/zombie_leader.ts";

/** Whether `pid` is gone or a zombie. */
async function dead(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Waits until `pid` is dead; the test's timeout bounds the wait. */
async function untilDead(pid: number): Promise<void> {
  while (!(await dead(pid))) await Bun.sleep(20);
}

describe.each(RUNTIMES)("descendants of a sandboxed command on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("a background job that holds the output dies when the command exits", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call(
      "process/start",
      startParams("bg", ["sh", "-c", "(sleep 1; echo late) & echo early"], dir.uri, {
        env: CHILD_PATH,
        sandbox: managedSandbox({ write: [dir.uri] }),
      }),
    );
    await client.untilClosed("bg");
    expect(client.outputText("bg")).toBe("early\n");
  });

  for (const tty of [false, true]) {
    test.concurrent(`a job that left the group dies too (${tty ? "terminal" : "pipes"})`, async () => {
      await using dir = await tempDir();
      await using client = await server().session();
      await client.call(
        "process/start",
        startParams(
          "ss",
          ["sh", "-c", "setsid sleep 60 >/dev/null 2>&1 </dev/null & echo pid=$!"],
          dir.uri,
          { env: CHILD_PATH, tty, sandbox: managedSandbox({ write: [dir.uri] }) },
        ),
      );
      await client.untilClosed("ss");
      const match = /pid=(\d+)/.exec(client.outputText("ss"));
      expect(match).not.toBeNull();
      await untilDead(Number(match?.[1]));
    });
  }

  test.concurrent("an unsandboxed background job keeps the output until it ends", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call(
      "process/start",
      startParams("plain", ["sh", "-c", "(sleep 0.3; echo late) & echo early"], dir.uri, { env: CHILD_PATH }),
    );
    await client.untilClosed("plain");
    expect(client.outputText("plain")).toBe("early\nlate\n");
  });
});

describe.each(RUNTIMES)("descendants of a sandboxed command without cgroups on %s", (runtime) => {
  // A server as nobody creates no cgroup: its containment finds the sandbox's members in /proc.
  test("a job that left the group dies when the command exits", async () => {
    await using dir = await tempDir();
    await using server = await startUnprivileged(runtime, dir.path);
    await using client = await server.session();
    await client.call(
      "process/start",
      startParams("ss", ["sh", "-c", "setsid sleep 60 >/dev/null 2>&1 </dev/null & echo pid=$!"], dir.uri, {
        env: CHILD_PATH,
        sandbox: managedSandbox({ write: [dir.uri] }),
      }),
    );
    await client.untilClosed("ss");
    const match = /pid=(\d+)/.exec(client.outputText("ss"));
    expect(match).not.toBeNull();
    await untilDead(Number(match?.[1]));
  });
  test.each(
    [
      ["whose leader thread ended alone", "zl", zombieLeaderDaemon],
      ["that made itself undumpable", "nd", undumpableDaemon],
    ] as const,
  )("a daemon %s dies when the command exits", async (_kind, processId, daemon) => {
    await using dir = await tempDir();
    await using server = await startUnprivileged(runtime, dir.path);
    await using client = await server.session();
    const pidFile = join(dir.path, "daemon.pid");
    await client.call(
      "process/start",
      startParams(processId, daemon(pidFile), dir.uri, {
        env: CHILD_PATH,
        sandbox: managedSandbox({ write: [dir.uri] }),
      }),
    );
    await client.untilClosed(processId);
    const pid = Number(await readFile(pidFile, "utf8"));
    while (await anyThreadAlive(pid)) await Bun.sleep(20);
  });
});
