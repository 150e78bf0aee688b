/**
 * The runtime adapters, judged by the same cases under Bun and Deno: one
 * `test/fixtures/runtime_fixture.ts <dir> <case>…` process per runtime runs every case in turn
 * and prints one JSON line each; every test compares its case's line. One runtime start per
 * runtime instead of one per case keeps the file cheap on a loaded machine.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { TEST_RUNTIME_ENV } from "../helpers/server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const BIN = join(ROOT, "node_modules", ".bin");
const FIXTURE = join(ROOT, "test", "fixtures", "runtime_fixture.ts");

type RuntimeName = "bun" | "deno";

const CaseLineSchema = z.object({
  case: z.string(),
  runtime: z.enum(["bun", "deno"]),
  result: z.unknown().optional(),
  error: z.string().optional(),
});

/** One fixture run: each case's outcome as it arrives. */
interface FixtureRun {
  result(name: string): Promise<unknown>;
  /** Kills what the fixture left behind and removes its directory. */
  close(): Promise<void>;
}

/** Starts the fixture under `runtime` with every case, in its own process group. */
async function startFixture(runtime: RuntimeName, names: readonly string[]): Promise<FixtureRun> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), "runtime-test-")));
  const argv = runtime === "bun"
    ? [join(BIN, "bun"), FIXTURE, dir, ...names]
    : [join(BIN, "deno"), "run", "-A", "--quiet", FIXTURE, dir, ...names];
  const [command, ...args] = argv;
  const child = spawn(command ?? "", args, {
    cwd: ROOT,
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: process.env["HOME"] ?? "/root",
      ...TEST_RUNTIME_ENV,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const outcomes = new Map(names.map((name) => [name, Promise.withResolvers<unknown>()]));
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (data: Buffer) => {
    stdout += data.toString();
    for (let newline = stdout.indexOf("\n"); newline !== -1; newline = stdout.indexOf("\n")) {
      const line = CaseLineSchema.parse(JSON.parse(stdout.slice(0, newline)));
      stdout = stdout.slice(newline + 1);
      const outcome = outcomes.get(line.case);
      if (line.runtime !== runtime) outcome?.reject(new Error(`case ${line.case} ran on ${line.runtime}`));
      else if (line.error !== undefined) {
        outcome?.reject(new Error(`case ${line.case} failed: ${line.error}`));
      } else outcome?.resolve(line.result);
    }
  });
  child.stderr.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  child.once("close", (code) => {
    for (const [name, outcome] of outcomes) {
      outcome.reject(new Error(`fixture exited ${code} before case ${name}: ${stderr}`));
    }
  });
  return {
    result: (name) => outcomes.get(name)?.promise ?? Promise.reject(new Error(`no case ${name}`)),
    async close() {
      // Whatever the fixture left behind dies with its group.
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // The group is already gone.
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
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
  ["pipeKinds", "spawn gives the child blocking pipes as stdin, stdout and stderr", {
    found: { 0: "fifo blocking", 1: "fifo blocking", 2: "fifo blocking" },
    err: "",
    exited: ok,
  }],
  ["pipesReleased", "spawn leaves no descriptor open once its pipes are done with, or when it fails", {
    leaked: 0,
    failures: [],
  }],
  ["stdinHeldWhileRunning", "spawn keeps a running child's stdin open when its owner keeps only the pid", {
    held: true,
    exited: { code: null, signal: 9 },
  }],
  ["stdinNull", "spawn with stdin null gives cat end of file at once", { stdin: null, out: "", exited: ok }],
  ["outputAfterExit", "spawn output stays readable after the exit", {
    outBytes: 50000,
    err: "err\n",
    exited: ok,
  }],
  ["outputWaitsForItsReader", "spawn reads a child's output only as its stream is read", {
    waiting: true,
    bytes: 64 * 1024 * 1024,
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
  // Last: its handler stays installed for the rest of the run.
  [
    "uncaughtErrors",
    "onUncaughtError hears an uncaught exception and an unhandled rejection, and the process lives",
    {
      seen: ["rejected and never handled", "thrown in a timer"],
    },
  ],
];

describe.each([["bun"], ["deno"]] as const)("runtime adapter on %s", (runtime: RuntimeName) => {
  const names = [...CASES.map(([name]) => name), "selfImage"];
  let run: Promise<FixtureRun> | null = null;
  const result = async (name: string): Promise<unknown> => {
    run ??= startFixture(runtime, names);
    return await (await run).result(name);
  };
  afterAll(async () => {
    await (await run)?.close();
  });

  for (const [name, title, expected] of CASES) {
    test.concurrent(title, async () => {
      expect(await result(name)).toEqual(expected);
    });
  }

  test.concurrent("selfImage names this script and imageCommand re-runs it hardened", async () => {
    const outcome = await result("selfImage");
    expect(outcome).toMatchObject({ absolute: true, endsWithFixture: true, hardened: true });
    expect((outcome as { last: string[] }).last[1]).toBe("mode");
  });
});
