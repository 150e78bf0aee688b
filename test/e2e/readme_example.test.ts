/** The client example of README.md, run exactly as written, against a server and locally. */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sharedServer } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const ROOT = join(import.meta.dir, "..", "..");
const BUN = join(ROOT, "node_modules", ".bin", "bun");

/** The first `ts` block after the "Use it from code" heading. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Use it from code"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error("README.md has no client example");
  return match[1];
}

/** Runs `script` with bun in `cwd` with exactly `env`; resolves with its exit code and output. */
function run(
  cwd: string,
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(BUN, [script], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (data: Buffer) => (out += data.toString()));
    child.stderr.on("data", (data: Buffer) => (out += data.toString()));
    child.once("exit", (code) => resolve({ code, out }));
  });
}

describe("README client example", () => {
  const server = sharedServer("bun");

  test("the README's client example has 15 lines and runs as written, remote and local", async () => {
    const example = await readmeExample();
    expect(example.trimEnd().split("\n").length).toBe(15);
    await using dir = await tempDir();
    // The example imports the package by name: a node_modules link to this checkout resolves it.
    await mkdir(join(dir.path, "node_modules"));
    await symlink(ROOT, join(dir.path, "node_modules", "exec-server"));
    await writeFile(join(dir.path, "example.ts"), example);
    const base = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/root" };
    const expected = { code: 0, out: "mktemp exited with 0\nhello from exec-server\n\n" };
    expect(await run(dir.path, "example.ts", { ...base, EXEC_SERVER_URL: server().url })).toEqual(expected);
    expect(await run(dir.path, "example.ts", base)).toEqual(expected);
  });
});
