/**
 * The runtime adapters, judged by the same cases under Bun and Deno: each case runs
 * `test/fixtures/runtime_fixture.ts <case>` under the runtime and compares its JSON line.
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const BIN = join(ROOT, "node_modules", ".bin");
const FIXTURE = join(ROOT, "test", "fixtures", "runtime_fixture.ts");
const TIMEOUT_MS = 60_000;

type RuntimeName = "bun" | "deno";

/** Runs one fixture case under `runtime` in its own process group and returns its result. */
async function runCase(runtime: RuntimeName, name: string): Promise<unknown> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), "runtime-test-")));
  const argv = runtime === "bun"
    ? [join(BIN, "bun"), FIXTURE, name, dir]
    : [join(BIN, "deno"), "run", "-A", "--quiet", FIXTURE, name, dir];
  const [command, ...args] = argv;
  const child = spawn(command ?? "", args, {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/root" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  try {
    const code = await new Promise<number | null>((resolve) => child.once("close", (exit) => resolve(exit)));
    const line = stdout.trim().split("\n").at(-1) ?? "";
    if (code !== 0 || line === "") throw new Error(`fixture ${name} exited ${code}: ${stderr}`);
    const parsed: unknown = JSON.parse(line);
    expect(parsed).toMatchObject({ runtime });
    return (parsed as { result: unknown }).result;
  } finally {
    // Whatever the fixture left behind dies with its group.
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // The group is already gone.
    }
    await rm(dir, { recursive: true, force: true });
  }
}

const ok = { code: 0, signal: null };

/** Each case and the result both runtimes must print. */
const CASES: Array<[name: string, title: string, expected: unknown]> = [
  ["exitCode", "spawn reports exit code 3", { code: 3, signal: null }],
  ["signalDeath", "spawn reports a SIGKILL death as signal 9", { code: null, signal: 9 }],
  ["exit143", "spawn keeps a real exit 143 as code 143", { code: 143, signal: null }],
  ["envExact", "spawn gives exactly plan.env", { lines: ["A=1", "B=two words"], exited: ok }],
  ["cwd", "spawn runs in plan.cwd", { same: true }],
  ["stdinPipe", "spawn pipes stdin to cat and back", { out: "hello world\n", exited: ok }],
  ["stdinBrokenPipe", "spawn stdin write rejects with EPIPE when the reader is gone", { error: "EPIPE" }],
  ["stdinNull", "spawn with stdin null gives cat end of file at once", { stdin: null, out: "", exited: ok }],
  ["outputAfterExit", "spawn output stays readable after the exit", {
    outBytes: 50000,
    err: "err\n",
    exited: ok,
  }],
  [
    "processGroup",
    "spawn makes a group leader whose group kill reaches the grandchild",
    { groupLeader: true, exited: { code: null, signal: 9 }, grandchildDead: true },
  ],
  ["argv0", "spawn shows argv0 in /proc/self/cmdline", {
    argv: ["mycat", "/proc/self/cmdline", ""],
    exited: ok,
  }],
  ["argv0Env", "spawn with argv0 still gives exactly plan.env", { out: "ONLY=this\n", exited: ok }],
  ["spawnNotFound", "spawn throws ENOENT for a missing program", { code: "ENOENT" }],
  ["spawnNotFoundArgv0", "spawn with argv0 throws ENOENT for a missing program", { code: "ENOENT" }],
  ["ptySize", "spawnPty starts at the given size", { out: "30 100\r\n", exited: ok }],
  ["ptyResize", "spawnPty resize changes stty size", { out: "30 100\r\ngo\r\n50 132\r\n", exited: ok }],
  ["ptyWinch", "spawnPty resize delivers SIGWINCH", { sawWinch: true, exited: ok }],
  ["ptyInterrupt", "spawnPty turns ^C into SIGINT for the foreground job", { interrupted: true }],
  ["ptyEcho", "spawnPty echoes typed input and ^D ends cat", { out: "hello\r\nhello\r\n", exited: ok }],
  ["ptyEnvCwd", "spawnPty gives exactly plan.env and plan.cwd", { env: ["A=1"], cwdOk: true }],
  ["ptyBulk", "spawnPty delivers every byte in order", { same: true, bytes: 688895, exited: ok }],
  ["ptyExitStatus", "spawnPty reports exit codes and signals", [{ code: 7, signal: null }, {
    code: null,
    signal: 15,
  }]],
  [
    "wsEcho",
    "serve echoes text and binary messages and knows the peer",
    { text: "text:hi", binary: "binary:3", protocol: "", remoteOk: true },
  ],
  ["wsProtocol", "serve selects the subprotocol only when given", { selected: "exec-server.v1", none: "" }],
  ["wsNoProtocolHeader", "serve sends no Sec-WebSocket-Protocol when none is selected", {
    status: 101,
    protocol: null,
  }],
  ["wsOversize", "serve closes with 1009 on an oversize text message", { code: 1009 }],
  ["wsOversizeBinary", "serve closes with 1009 on an oversize binary message", { code: 1009 }],
  ["wsDrain", "serve reports a drained backlog", { received: 32, hadBacklog: true }],
  ["httpPlain", "serve answers plain HTTP through fetch", { status: 200, body: "plain" }],
];

describe.each([["bun"], ["deno"]] as const)("runtime adapter on %s", (runtime: RuntimeName) => {
  for (const [name, title, expected] of CASES) {
    test.concurrent(title, async () => {
      expect(await runCase(runtime, name)).toEqual(expected);
    }, TIMEOUT_MS);
  }

  test.concurrent("selfCommand re-runs this script", async () => {
    expect(await runCase(runtime, "selfCommand")).toEqual({
      length: runtime === "bun" ? 2 : 5,
      endsWithFixture: true,
    });
  }, TIMEOUT_MS);
});
