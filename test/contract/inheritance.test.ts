/**
 * A process starts clean of what the server inherited from whoever started it.
 *
 * Descriptors: it gets stdin, stdout and stderr and nothing else. Whoever starts the server may
 * leave descriptors open without close-on-exec (a supervisor's pipe, a socket handed down); Deno's
 * spawn passes those on to every child, and a child that then outlives its session (a daemon
 * started with `&`) would hold, say, the write end of a supervisor's pipe, which would never see
 * end of file.
 *
 * Signals: it starts with every signal at its default action. A server started in the background
 * by a script inherits SIGQUIT ignored, one started under `nohup` SIGHUP, and an ignored signal
 * stays ignored across exec: `process/signal` `quit` or `hangup` (PROTOCOL.md §11.5) would do
 * nothing, nor would the SIGHUP a terminal's process group gets when its leader exits.
 */
import { describe, expect, test } from "bun:test";
import { chown, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { signalsInMask } from "../../src/runtime/signal_mask.ts";
import { RUNTIMES, serverCommand, startServer } from "../helpers/server.ts";
import type { TestClient } from "../helpers/client.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** `ls` reads the shell's descriptor table while the shell holds nothing of its own open. */
const LIST_DESCRIPTORS = ["sh", "-c", "ls -l /proc/$$/fd"];

/** The uid and gid of `nobody`, who may create no cgroup: its children start without the join. */
const NOBODY = 65534;

/** Starts the server with these signals ignored, as `nohup` or a script's `&` would. */
function ignoringSignals(runtime: (typeof RUNTIMES)[number], signals: string): string[] {
  return ["sh", "-c", `trap "" ${signals}; exec "$@"`, "sh", ...serverCommand(runtime)];
}

/** The descriptor numbers a started process listed. */
async function descriptorsListed(
  client: TestClient,
  processId: string,
  cwd: string,
  overrides: Record<string, unknown>,
): Promise<string[]> {
  await client.call(
    "process/start",
    startParams(processId, LIST_DESCRIPTORS, cwd, { env: CHILD_PATH, ...overrides }),
  );
  await client.untilClosed(processId);
  const lines = client.outputText(processId).split(/\r?\n/).filter((line) => line.includes(" -> "));
  return lines.map((line) => line.split(" -> ")[0]?.split(" ").at(-1) ?? line);
}

/** The exit code of a `sleep` that got `signal` once it was running. */
async function exitCodeAfter(
  client: TestClient,
  processId: string,
  cwd: string,
  signal: string,
  overrides: Record<string, unknown>,
): Promise<unknown> {
  const argv = ["sh", "-c", "echo ready; exec sleep 30"];
  await client.call("process/start", startParams(processId, argv, cwd, { env: CHILD_PATH, ...overrides }));
  await client.waitForOutput(processId, "ready");
  await client.call("process/signal", { processId, signal });
  const events = await client.untilClosed(processId);
  return events.find((event) => event.method === "process/exited")?.exitCode;
}

describe.each(RUNTIMES)("what the server inherited, on %s", (runtime) => {
  test("no descriptor of it reaches a piped, a terminal or a sandboxed process", async () => {
    await using server = await startServer({ runtime, extraPipes: 2 });
    await using dir = await tempDir();
    await using client = await server.session();
    expect(await descriptorsListed(client, "pipes", dir.uri, {})).toEqual(["0", "1", "2"]);
    expect(await descriptorsListed(client, "terminal", dir.uri, { tty: true })).toEqual(["0", "1", "2"]);
    const sandbox = managedSandbox({ write: [pathToFileURL(dir.path).href] });
    expect(await descriptorsListed(client, "sandboxed", dir.uri, { sandbox })).toEqual(["0", "1", "2"]);
  });

  test("a signal it ignores still ends a piped, a terminal or a sandboxed process", async () => {
    await using server = await startServer({
      runtime,
      command: ignoringSignals(runtime, "HUP QUIT USR2 TTOU"),
    });
    await using dir = await tempDir();
    await using client = await server.session();
    expect(await exitCodeAfter(client, "quit", dir.uri, "quit", {})).toBe(131);
    expect(await exitCodeAfter(client, "user2", dir.uri, "user2", {})).toBe(140);
    expect(await exitCodeAfter(client, "terminal", dir.uri, "hangup", { tty: true })).toBe(129);
    const sandbox = managedSandbox({ write: [pathToFileURL(dir.path).href] });
    expect(await exitCodeAfter(client, "sandboxed", dir.uri, "quit", { sandbox })).toBe(131);
    // A background server whose terminal has `tostop` writes to it only while it ignores SIGTTOU.
    const status = await readFile(`/proc/${server.child.pid}/status`, "utf8");
    expect(signalsInMask(/^SigIgn:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0")).toContain(22);
  });

  test("no signal the runtime ignores reaches a piped, a terminal or a sandboxed process", async () => {
    // Bun and Deno ignore SIGPIPE (Bun SIGXFSZ too), and a sandboxed process is exec'd by the
    // launcher, a runtime process: `yes | head` there would get EPIPE and "Broken pipe" instead
    // of dying quietly as it does everywhere else.
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    await using client = await server.session();
    const script = "grep SigIgn /proc/self/status; (yes; echo yes-exited-$? >&2) | head -c 1 >/dev/null";
    const sandbox = managedSandbox({ write: [pathToFileURL(dir.path).href] });
    for (
      const [processId, overrides] of [
        ["piped", {}],
        ["terminal", { tty: true }],
        ["sandboxed", { sandbox }],
        ["sandboxed-terminal", { sandbox, tty: true }],
      ] as const
    ) {
      await client.call(
        "process/start",
        startParams(processId, ["sh", "-c", script], dir.uri, { env: CHILD_PATH, ...overrides }),
      );
      await client.untilClosed(processId);
      const output = client.outputText(processId);
      const ignored = /SigIgn:\s*([0-9a-f]+)/.exec(output)?.[1] ?? "missing";
      expect({
        processId,
        ignored: signalsInMask(ignored),
        output: output.replace(/SigIgn:.*\r?\n/, "").trim(),
      })
        .toEqual({ processId, ignored: [], output: "yes-exited-141" });
    }
  });

  test("reaches no process of an unprivileged server either, which starts them another way", async () => {
    await using home = await tempDir();
    await using dir = await tempDir();
    await chown(home.path, NOBODY, NOBODY);
    await chown(dir.path, NOBODY, NOBODY);
    const asNobody = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"];
    await using server = await startServer({
      runtime,
      command: [...asNobody, ...ignoringSignals(runtime, "QUIT")],
      // The tests run as root: another user, whom a loopback listener refuses unless told otherwise.
      args: ["--allow-local-users"],
      env: { HOME: home.path, DENO_DIR: join(home.path, "deno") },
      extraPipes: 1,
    });
    await using client = await server.session();
    expect(await descriptorsListed(client, "pipes", dir.uri, {})).toEqual(["0", "1", "2"]);
    expect(await descriptorsListed(client, "terminal", dir.uri, { tty: true })).toEqual(["0", "1", "2"]);
    expect(await exitCodeAfter(client, "quit", dir.uri, "quit", {})).toBe(131);
  });
});
