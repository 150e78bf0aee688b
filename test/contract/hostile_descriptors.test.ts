/**
 * A peer that opens connections until the server has no file descriptor left (here the server runs
 * with a limit of 64) must not stop it accepting once those connections close. Deno's `Deno.serve`
 * ends its accept loop at the first EMFILE and closes the listening socket. Terminal starts that run
 * into the limit each get their answer at once, a process or EMFILE, and leave nothing behind.
 */
import { describe, expect, test } from "bun:test";
import { chown, readdir, readFile } from "node:fs/promises";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { RUNTIMES, serverCommand, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { CallError } from "../helpers/client.ts";
import type { TestClient } from "../helpers/client.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { isAlive, pollUntil, processesWithArgument, survivorsAfter, waitUntilDead } from "../helpers/proc.ts";
import { NOBODY } from "../helpers/unprivileged_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const DESCRIPTOR_LIMIT = 64;
/** Twice the limit, held open together: the server cannot take them all. */
const FLOOD = 2 * DESCRIPTOR_LIMIT;
/** The limit for the terminal case, and its starts: more than the limit has room for. */
const TERMINAL_DESCRIPTOR_LIMIT = 300;
const TERMINALS = 120;
/** How long a terminal's shell would stay quiet: longer than the case, which ends them. */
const QUIET_SECONDS = "1000.01";
/**
 * The descriptors a server may keep once its terminals are gone, beyond those it held before:
 * Deno's shared terminal poller, made by the first terminal, holds two for good.
 */
const DESCRIPTOR_SLACK = 4;
/** Between two looks at the server's descriptors, or two tries to connect. */
const POLL_MS = 20;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP connection to the listener, or null when it is refused. */
function openConnection(server: TestServer): Promise<Socket | null> {
  const { hostname, port } = new URL(server.httpUrl);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => resolve(socket));
    socket.once("error", () => resolve(null));
  });
}

/** How many descriptors the server holds; a server that has died fails the case with its log. */
async function descriptorsOf(server: TestServer): Promise<number> {
  try {
    return (await readdir(`/proc/${server.child.pid ?? 0}/fd`)).length;
  } catch (error) {
    const code = await Promise.race([server.exited, pause(2_000).then(() => "none yet")]);
    const signal = server.child.signalCode;
    const log = server.stderr();
    throw new Error(`the server has no descriptors to count: exit ${code}, signal ${signal}, log: ${log}`, {
      cause: error,
    });
  }
}

/** The first session that the server accepts, trying again while it refuses or resets. */
async function untilAccepting(server: TestServer): Promise<TestClient> {
  for (;;) {
    try {
      return await server.session();
    } catch {
      await pause(POLL_MS);
    }
  }
}

describe.each(RUNTIMES)("descriptors used up on %s", (runtime) => {
  test("the server accepts again once the connections that used up its descriptors close", async () => {
    await using server = await startServer({
      runtime,
      command: ["prlimit", `--nofile=${DESCRIPTOR_LIMIT}`, ...serverCommand(runtime)],
    });
    await using dir = await tempDir();
    const flood = await useUpDescriptors(server);
    for (const socket of flood) socket?.destroy();
    await using client = await untilAccepting(server);
    await client.call("process/start", startParams("after", ["echo", "still serving"], dir.uri));
    await client.untilClosed("after");
    expect(client.outputText("after")).toBe("still serving\n");
  }, 30_000);

  // The kill of an expired session found no descriptor for `cgroup.kill`: a Bun server then crashed
  // logging it (its stderr writer, made at the first line, needs one), and every client's processes
  // went with it; on Deno the session's daemon outlived the session.
  test(
    "a session that expires while the descriptors are used up loses its daemon, and the server serves on",
    async () => {
      await using server = await startServer({
        runtime,
        args: ["--session-ttl", "0.3"],
        command: ["prlimit", `--nofile=${DESCRIPTOR_LIMIT}`, ...serverCommand(runtime)],
      });
      await using dir = await tempDir();
      const seed = `${Date.now()}${Math.floor(Math.random() * 1_000)}`;
      const client = await server.session();
      const leader = await startDaemonTree(client, "daemon", dir.uri, `911.${seed}`, `912.${seed}`);
      const flood = await useUpDescriptors(server);
      await client[Symbol.asyncDispose]();
      // The expiry has killed the group: its kill of the cgroup has met the flood.
      await waitUntilDead(leader);
      for (const socket of flood) socket?.destroy();
      const ended = server.exited.then((code): never => {
        throw new Error(`the server exited with ${code}: ${server.stderr()}`);
      });
      await using other = await Promise.race([untilAccepting(server), ended]);
      await other.call("process/start", startParams("after", ["echo", "still serving"], dir.uri));
      await other.untilClosed("after");
      expect(other.outputText("after")).toBe("still serving\n");
      expect(await survivorsAfter(seed, 10_000)).toEqual([]);
    },
    30_000,
  );

  // Without cgroups a terminate finds what left the group by reading /proc, which takes descriptors:
  // a walk that found none saw no process, and the group's kill left the setsid child, its parent
  // chain then lost, out of reach for good.
  test(
    "without cgroups, a terminate while the descriptors are used up still kills the setsid child",
    async () => {
      await using home = await tempDir();
      await chown(home.path, NOBODY, NOBODY);
      await using server = await startServer({
        runtime,
        command: [
          "prlimit",
          `--nofile=${DESCRIPTOR_LIMIT}`,
          "setpriv",
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          "--clear-groups",
          ...serverCommand(runtime),
        ],
        args: ["--allow-local-users"],
        env: { HOME: home.path, DENO_DIR: `${home.path}/deno` },
      });
      const seed = `${Date.now()}${Math.floor(Math.random() * 1_000)}`;
      await using client = await server.session();
      const leader = await startDaemonTree(client, "tree", home.uri, `913.${seed}`, `914.${seed}`);
      const flood = await useUpDescriptors(server);
      expect(await client.call("process/terminate", { processId: "tree" })).toEqual({ running: true });
      // The kill follows the walk: a walk that gave up at once has killed the group by now, one that
      // waits for descriptors has not; either way the flood then ends.
      await pollUntil(() => isAlive(leader), (alive) => !alive, 2_000);
      for (const socket of flood) socket?.destroy();
      await client.untilClosed("tree");
      expect(await survivorsAfter(seed, 10_000)).toEqual([]);
    },
    30_000,
  );

  // A look at the tree's CPU time that found no descriptor ended the budget for good: the loop ran
  // on past its limit for as long as it lived.
  test(
    "a CPU limit holds for a loop whose budget was looked at while the descriptors were used up",
    async () => {
      await using server = await startServer({
        runtime,
        command: ["prlimit", `--nofile=${DESCRIPTOR_LIMIT}`, ...serverCommand(runtime)],
      });
      await using dir = await tempDir();
      await using client = await server.session();
      const limitSeconds = 1.5;
      // The loop waits for its go, so that it spends its budget while the flood holds the descriptors.
      await client.call(
        "process/start",
        startParams("spin", ["sh", "-c", "echo $$; read go; while :; do :; done"], dir.uri, {
          pipeStdin: true,
          limits: { cpuSeconds: limitSeconds },
        }),
      );
      await client.waitForOutput("spin", "\n");
      const pid = Number(client.outputText("spin").trim());
      const flood = await useUpDescriptors(server);
      await client.call("process/write", { processId: "spin", chunk: btoa("go\n") });
      // Past its limit by half a second of its own CPU time, every look of the budget has met the flood.
      while (await cpuSecondsOf(pid) < limitSeconds + 0.5) await pause(POLL_MS);
      for (const socket of flood) socket?.destroy();
      const events = await client.untilClosed("spin");
      expect(events.find((event) => event.method === "process/exited")).toMatchObject({
        exitCode: 137,
        failure: `cpu time limit of ${limitSeconds} seconds exceeded`,
      });
    },
    30_000,
  );

  test(
    "terminal starts that meet the descriptor limit each run or fail at once, and nothing is closed twice",
    async () => {
      await using server = await startServer({
        runtime,
        command: ["prlimit", `--nofile=${TERMINAL_DESCRIPTOR_LIMIT}`, ...serverCommand(runtime)],
      });
      await using dir = await tempDir();
      await using client = await server.session();
      await using other = await server.session();
      const before = await descriptorsOf(server);
      // Each terminal takes several descriptors (its two ends; under Bun the relays' pipes): some of
      // these starts run out of them, at one step or another. The shells stay quiet until ended, and
      // there are more of them than Deno has threads for blocking calls (32).
      const starts = Array.from({ length: TERMINALS }, (_, index) =>
        client.call(
          "process/start",
          startParams(`t${index}`, ["sh", "-c", `echo up; exec sleep ${QUIET_SECONDS}`], dir.uri, {
            tty: true,
          }),
        ).then(() => ({ id: `t${index}`, error: null }), (error: unknown) => ({ id: `t${index}`, error })));
      // Another client is served meanwhile, and every start is answered while the terminals that run
      // stay quiet: a server whose answers wait for a terminal to print or end never gets past here.
      expect((await other.call("fs/getMetadata", { path: dir.uri }))["isDirectory"]).toBe(true);
      const answers = await Promise.all(starts);
      const started = answers.filter((answer) => answer.error === null).map((answer) => answer.id);
      const refusals = answers.flatMap((answer) =>
        answer.error instanceof CallError ? [answer.error.reply] : []
      );
      expect(started.length + refusals.length).toBe(TERMINALS);
      for (const reply of refusals) {
        expect(reply).toMatchObject({
          code: -32603,
          message: "program sh: Too many open files (os error 24)",
        });
      }
      for (const id of started) await client.waitForOutput(id, "up");
      for (const id of started) await client.call("process/terminate", { processId: id });
      for (const id of started) await client.untilClosed(id);
      // The shells of the starts that failed are gone too: one whose terminal no one reads must not
      // run on unseen. And the terminals' descriptors are all given back.
      while ((await childCommands(server)).some((command) => command.includes(`sleep ${QUIET_SECONDS}`))) {
        await pause(POLL_MS);
      }
      while (await descriptorsOf(server) > before + DESCRIPTOR_SLACK) await pause(POLL_MS);
      await client.call("process/start", startParams("after", ["echo", "still serving"], dir.uri));
      await client.untilClosed("after");
      expect(client.outputText("after")).toBe("still serving\n");
      expect(server.stderr()).not.toContain("uncaught error");
    },
    30_000,
  );
});

/**
 * Opens `FLOOD` connections and waits until the server holds one descriptor short of its limit:
 * with connections still waiting, its next accept takes the last one and the one after fails (Deno
 * then closes its listening socket, which leaves it one short). The caller destroys them.
 */
async function useUpDescriptors(server: TestServer): Promise<Array<Socket | null>> {
  const flood = await Promise.all(Array.from({ length: FLOOD }, () => openConnection(server)));
  while (await descriptorsOf(server) < DESCRIPTOR_LIMIT - 1) await pause(POLL_MS);
  return flood;
}

/**
 * Starts `processId`, a shell that leaves a `setsid` daemon (`sleep DAEMON_TAG`) and becomes
 * `sleep LEADER_TAG`; resolves with the shell's pid once the daemon runs.
 */
async function startDaemonTree(
  client: TestClient,
  processId: string,
  cwd: string,
  daemonTag: string,
  leaderTag: string,
): Promise<number> {
  const script = `setsid sleep ${daemonTag} < /dev/null > /dev/null 2>&1 & echo $$; exec sleep ${leaderTag}`;
  await client.call(
    "process/start",
    startParams(processId, ["sh", "-c", script], cwd, { env: CHILD_PATH }),
  );
  await client.waitForOutput(processId, "\n");
  const leader = Number(client.outputText(processId).trim());
  while ((await processesWithArgument(daemonTag)).length === 0) await pause(POLL_MS);
  return leader;
}

/** The CPU time a process has used, in seconds (infinite once it is gone: it used what it could). */
async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (stat === null) return Number.POSITIVE_INFINITY;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime, fields 14 and 15 of the line, in clock ticks (100 a second here).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The command lines of the server's children, across its threads. */
async function childCommands(server: TestServer): Promise<string[]> {
  const pid = server.child.pid ?? 0;
  const tasks = await readdir(`/proc/${pid}/task`);
  const lists = await Promise.all(
    tasks.map((task) => readFile(`/proc/${pid}/task/${task}/children`, "utf8").catch(() => "")),
  );
  const children = lists.join(" ").split(/\s+/).filter((child) => child !== "");
  return await Promise.all(
    children.map((child) =>
      readFile(`/proc/${child}/cmdline`, "utf8").then((line) => line.replaceAll("\0", " "), () => "")
    ),
  );
}
