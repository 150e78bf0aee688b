/**
 * A piped process's stdin, stdout and stderr are pipes (PROTOCOL.md §5.2), as they are under the
 * reference and a shell: blocking, and openable again by name. A socket pair in their place looks
 * the same to `read` and `write`, but opening `/dev/stderr` (`/proc/self/fd/2`) on a socket fails
 * with ENXIO, so `echo x > /dev/stderr`, `tee /dev/stderr` or `cat /dev/stdin` fail; and bash reads
 * `~/.bashrc` for `bash -c` when its stdin is a socket (it takes that for a remote shell).
 */
import { describe, expect, test } from "bun:test";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { b64, CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/**
 * Prints `<fd> <file type>` and `<fd> <flags in octal>` for fds 0–2. `stat` and `sed` inherit the
 * shell's descriptors and print to them directly: in a command substitution, stdout would be the
 * substitution's own pipe.
 */
const PROBE = 'for f in 0 1 2; do stat -L -c "$f %F" /proc/self/fd/$f; ' +
  'sed -n "s/^flags:[[:space:]]*/$f /p" /proc/self/fdinfo/$f; done';

const O_NONBLOCK = 0o4000;

/** What the probe found, per descriptor. */
function descriptors(output: string): Record<string, { kind: string; nonblocking: boolean }> {
  const found: Record<string, { kind: string; nonblocking: boolean }> = {};
  for (const line of output.split("\n").filter((text) => text !== "")) {
    const [fd = "", ...rest] = line.split(" ");
    const value = rest.join(" ");
    const entry = found[fd] ??= { kind: "", nonblocking: false };
    if (/^[0-7]+$/.test(value)) entry.nonblocking = (Number.parseInt(value, 8) & O_NONBLOCK) !== 0;
    else entry.kind = value;
  }
  return found;
}

/** The text of one output stream of a process. */
function streamText(client: TestClient, processId: string, stream: "stdout" | "stderr"): string {
  return client.events(processId)
    .map((event) => event.method === "process/output" && event.stream === stream ? event.text : "")
    .join("");
}

function exitCodeOf(client: TestClient, processId: string): number | null {
  const exited = client.events(processId).find((event) => event.method === "process/exited");
  return exited?.method === "process/exited" ? exited.exitCode : null;
}

const PIPE = { kind: "fifo", nonblocking: false };

describe.each(RUNTIMES)("process pipes on %s", (runtime) => {
  const server = sharedServer(runtime);

  for (const sandboxed of [false, true]) {
    const where = sandboxed ? "a sandboxed process" : "a process";

    test.concurrent(`${where} gets blocking pipes as stdin, stdout and stderr`, async () => {
      await using dir = await tempDir();
      await using client = await server().session();
      const sandbox = sandboxed ? { sandbox: managedSandbox({ write: [dir.uri] }) } : {};
      await client.call(
        "process/start",
        startParams("fds", ["sh", "-c", PROBE], dir.uri, { env: CHILD_PATH, pipeStdin: true, ...sandbox }),
      );
      await client.untilClosed("fds");
      expect(descriptors(streamText(client, "fds", "stdout"))).toEqual({ 0: PIPE, 1: PIPE, 2: PIPE });
    });

    test.concurrent(`${where} without pipeStdin gets the null device and pipes`, async () => {
      await using dir = await tempDir();
      await using client = await server().session();
      const sandbox = sandboxed ? { sandbox: managedSandbox({ write: [dir.uri] }) } : {};
      await client.call(
        "process/start",
        startParams("fds", ["sh", "-c", PROBE], dir.uri, { env: CHILD_PATH, ...sandbox }),
      );
      await client.untilClosed("fds");
      expect(descriptors(streamText(client, "fds", "stdout"))).toEqual({
        0: { kind: "character special file", nonblocking: false },
        1: PIPE,
        2: PIPE,
      });
    });

    test.concurrent(`${where} opens /dev/stdout, /dev/stderr and /dev/stdin by name`, async () => {
      await using dir = await tempDir();
      await using client = await server().session();
      const sandbox = sandboxed ? { sandbox: managedSandbox({ write: [dir.uri] }) } : {};
      const argv = ["sh", "-c", "echo out > /dev/stdout; echo err > /dev/stderr; cat /dev/stdin"];
      await client.call(
        "process/start",
        startParams("devfd", argv, dir.uri, { env: CHILD_PATH, pipeStdin: true, ...sandbox }),
      );
      await client.call("process/write", { processId: "devfd", chunk: b64("in\n") });
      await client.call("process/closeStdin", { processId: "devfd" });
      await client.untilClosed("devfd");
      expect({
        stdout: streamText(client, "devfd", "stdout"),
        stderr: streamText(client, "devfd", "stderr"),
        exitCode: exitCodeOf(client, "devfd"),
      }).toEqual({ stdout: "out\nin\n", stderr: "err\n", exitCode: 0 });
    });

    test.concurrent(`${where} running bash -c with pipeStdin does not read ~/.bashrc`, async () => {
      await using dir = await tempDir();
      await using client = await server().session();
      await writeFile(join(dir.path, ".bashrc"), "echo bashrc-was-read\n");
      const sandbox = sandboxed ? { sandbox: managedSandbox({ write: [dir.uri] }) } : {};
      const env = { ...CHILD_PATH, HOME: dir.path };
      await client.call(
        "process/start",
        startParams("rc", ["bash", "-c", "echo body"], dir.uri, { env, pipeStdin: true, ...sandbox }),
      );
      await client.call("process/closeStdin", { processId: "rc" });
      await client.untilClosed("rc");
      expect(client.outputText("rc")).toBe("body\n");
    });
  }

  test.concurrent("process/write reaches a descendant that holds stdin after the process exits", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    // The shell exits at once; `cat` keeps its stdin (and stdout) and echoes what comes later.
    const argv = ["sh", "-c", "exec 3<&0; cat <&3 & exit 0"];
    await client.call(
      "process/start",
      startParams("heir", argv, dir.uri, { env: CHILD_PATH, pipeStdin: true }),
    );
    await client.waitFor("heir", (events) => events.some((event) => event.method === "process/exited"));
    expect(await client.call("process/write", { processId: "heir", chunk: b64("after the exit\n") }))
      .toEqual({ status: "accepted" });
    await client.waitForOutput("heir", "after the exit\n");
    expect(await client.call("process/closeStdin", { processId: "heir" })).toEqual({ status: "accepted" });
    await client.untilClosed("heir");
    expect(client.outputText("heir")).toBe("after the exit\n");
  });

  test("a running piped process holds four of the server's descriptors at most", async () => {
    await using own = await startServer({ runtime });
    await using dir = await tempDir();
    await using client = await own.session();
    const descriptors = async (): Promise<number> => (await readdir(`/proc/${own.child.pid}/fd`)).length;
    // Both streams have printed once the line is in both: the server reads each of them by then.
    const argv = ["sh", "-c", "echo up; echo up >&2; exec cat"];
    const startRunning = async (processId: string): Promise<void> => {
      await client.call(
        "process/start",
        startParams(processId, argv, dir.uri, { env: CHILD_PATH, pipeStdin: true }),
      );
      await client.waitFor(processId, () => streamText(client, processId, "stdout") === "up\n");
      await client.waitFor(processId, () => streamText(client, processId, "stderr") === "up\n");
    };
    const stop = async (processId: string): Promise<void> => {
      await client.call("process/closeStdin", { processId });
      await client.untilClosed(processId);
    };
    // Whatever the server opens once (its first spawn's libraries) is open by now.
    await startRunning("warm");
    await stop("warm");
    const before = await descriptors();
    const running = Array.from({ length: 12 }, (_, i) => `running-${i}`);
    for (const processId of running) await startRunning(processId);
    const held = await descriptors() - before;
    for (const processId of running) await stop(processId);
    // Three pipes and a handle on the process each.
    expect(held).toBeLessThanOrEqual(4 * running.length);
  });

  test("a closed process leaves none of its pipes open in the server", async () => {
    await using own = await startServer({ runtime });
    await using dir = await tempDir();
    await using client = await own.session();
    const descriptors = async (): Promise<number> => (await readdir(`/proc/${own.child.pid}/fd`)).length;
    const run = async (
      processId: string,
      argv: string[],
      options: { pipeStdin: boolean; input: boolean },
    ) => {
      await client.call(
        "process/start",
        startParams(processId, argv, dir.uri, { env: CHILD_PATH, pipeStdin: options.pipeStdin }),
      );
      if (options.input) {
        await client.call("process/write", { processId, chunk: b64("x\n") });
        await client.call("process/closeStdin", { processId });
      }
      await client.untilClosed(processId);
    };
    // Whatever the server opens once (its first spawn's libraries, a worker) is open by now.
    for (let i = 0; i < 3; i++) await run(`warm-${i}`, ["cat"], { pipeStdin: true, input: true });
    const before = await descriptors();
    for (let i = 0; i < 8; i++) {
      await run(`unread-${i}`, ["sh", "-c", "echo out; echo err >&2"], { pipeStdin: true, input: false });
      await run(`read-${i}`, ["cat"], { pipeStdin: true, input: true });
      await run(`null-${i}`, ["sh", "-c", "echo out; echo err >&2"], { pipeStdin: false, input: false });
    }
    // The server may let go of a pipe a moment after `closed`: wait for that, bounded.
    const deadline = performance.now() + 5_000;
    let after = await descriptors();
    while (after > before && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await descriptors();
    }
    expect(Math.max(0, after - before)).toBe(0);
  });
});
