import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../helpers/server.ts";
import type { RuntimeName } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const ROOT = join(import.meta.dir, "..", "..");
const BIN = join(ROOT, "node_modules", ".bin");
const BUILD_TIMEOUT_MS = 60_000;

let buildDir = "";

/** Runs `bun build` with `args`; throws with its output when it fails. */
function bunBuild(args: string[]): void {
  const result = spawnSync(join(BIN, "bun"), ["build", join(ROOT, "mod.ts"), ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`bun build failed: ${result.stderr}${result.stdout}`);
}

beforeAll(async () => {
  buildDir = await mkdtemp(join(tmpdir(), "exec-server-build-"));
  bunBuild(["--target=bun", "--format=esm", "--outfile", join(buildDir, "exec-server.js")]);
  bunBuild(["--compile", "--outfile", join(buildDir, "exec-server")]);
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await rm(buildDir, { recursive: true, force: true });
});

const TARGETS: Array<[string, RuntimeName, () => string[]]> = [
  ["the bundle under bun", "bun", () => [join(BIN, "bun"), join(buildDir, "exec-server.js")]],
  ["the bundle under deno", "deno", () => [join(BIN, "deno"), "run", "-A", join(buildDir, "exec-server.js")]],
  ["the compiled executable", "bun", () => [join(buildDir, "exec-server")]],
];

describe.each(TARGETS)("single file: %s", (_name, runtime, command) => {
  test("runs a process, a sandboxed process and a sandboxed fs read", async () => {
    await using server = await startServer({ runtime, command: command() });
    await using dir = await tempDir();
    await using client = await server.session();
    await writeFile(join(dir.path, "note.txt"), "inside\n");
    await client.call("process/start", {
      processId: "plain",
      argv: ["/bin/sh", "-c", "echo plain"],
      cwd: dir.uri,
      env: {},
      tty: false,
    });
    expect(await client.untilClosed("plain")).toEqual([
      { method: "process/output", seq: 1, stream: "stdout", text: "plain\n" },
      { method: "process/exited", seq: 2, exitCode: 0, sandboxDenied: false },
      { method: "process/closed", seq: 3 },
    ]);
    const sandbox = {
      permissions: {
        type: "managed",
        file_system: {
          type: "restricted",
          entries: [
            { path: { type: "special", value: { kind: "minimal" } }, access: "read" },
            { path: { type: "path", path: dir.uri }, access: "write" },
          ],
        },
        network: "restricted",
      },
      windowsSandboxLevel: "disabled",
    };
    const started = await client.call("process/start", {
      processId: "boxed",
      argv: ["/bin/cat", "note.txt"],
      cwd: dir.uri,
      env: {},
      tty: false,
      sandbox,
    });
    expect(started).toEqual({ processId: "boxed", sandboxType: "linuxSeccomp" });
    expect(await client.untilClosed("boxed")).toEqual([
      { method: "process/output", seq: 1, stream: "stdout", text: "inside\n" },
      { method: "process/exited", seq: 2, exitCode: 0, sandboxDenied: false },
      { method: "process/closed", seq: 3 },
    ]);
    const read = await client.call("fs/readFile", { path: join(dir.path, "note.txt"), sandbox });
    expect(read).toEqual({ dataBase64: Buffer.from("inside\n").toString("base64") });
  }, 30_000);
});
