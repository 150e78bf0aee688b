import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { appendFile, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  installJoinHelper,
  joinCommand,
  joinHelperCode,
  sealedJoinHelper,
} from "../../src/containment/mod.ts";
import type { JoinTools } from "../../src/containment/mod.ts";
import type { SpawnPlan } from "../../src/runtime/mod.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { assembledText } from "../helpers/assembler.ts";

const ROOT = join(import.meta.dir, "..", "..");
const X64 = process.arch === "x64" && process.platform === "linux";

/** Runs a plan the way the runtimes do and returns what happened. */
function run(plan: SpawnPlan): { stdout: string; status: number | null; stderr: string } {
  const result = spawnSync(plan.program, plan.args, {
    argv0: plan.argv0,
    cwd: plan.cwd,
    env: { ...plan.env },
  });
  return { stdout: result.stdout.toString(), status: result.status, stderr: result.stderr.toString() };
}

async function tools(dir: string): Promise<JoinTools> {
  return { helper: await installJoinHelper(dir), shell: "/bin/sh", shellKeepsEnv: true, perl: null };
}

/** A plan whose program prints its argv, environment, pid and session id, one per line. */
function reportPlan(cwd: string, overrides: Partial<SpawnPlan> = {}): SpawnPlan {
  const script = 'printf "%s\\n" "$0" "$(env | sort | tr "\\n" " ")" "$$" "$(cut -d" " -f6 /proc/$$/stat)"';
  return {
    program: "/bin/sh",
    args: ["-c", script],
    argv0: "/bin/sh",
    cwd,
    env: {},
    stdin: "null",
    ...overrides,
  };
}

describe.skipIf(!X64)("join helper", () => {
  test("the join helper's bytes are join_helper_x86_64.s assembled", async () => {
    const assembled = await assembledText(join(ROOT, "src", "containment", "join_helper_x86_64.s"));
    if (assembled !== null) expect(Buffer.from(joinHelperCode("x64") ?? []).equals(assembled)).toBe(true);
  });

  test("joinCommand through the helper runs the program with exactly its argv[0] and environment", async () => {
    await using dir = await tempDir();
    const plan: SpawnPlan = {
      program: "/bin/cat",
      args: ["/proc/self/cmdline", "/proc/self/environ"],
      argv0: "renamed",
      cwd: dir.path,
      env: { "a.b": "1", PPID: "7", B: "two words" },
      stdin: "null",
    };
    const wrapped = joinCommand(plan, [], { tools: await tools(dir.path), argv0Found: false });
    expect([wrapped.program, wrapped.ownSession, wrapped.env]).toEqual([
      join(dir.path, "join-helper"),
      true,
      plan.env,
    ]);
    const fields = run(wrapped).stdout.split("\0").slice(0, -1);
    expect([fields.slice(0, 3), fields.slice(3).sort()]).toEqual([
      ["renamed", "/proc/self/cmdline", "/proc/self/environ"],
      ["B=two words", "PPID=7", "a.b=1"],
    ]);
  });

  test("the helper writes its pid into each join file, and the program keeps that pid as session leader", async () => {
    await using dir = await tempDir();
    const files = [join(dir.path, "one"), join(dir.path, "two")];
    for (const file of files) await Bun.write(file, "");
    const wrapped = joinCommand(reportPlan(dir.path), files, {
      tools: await tools(dir.path),
      argv0Found: true,
    });
    const { stdout, status } = run(wrapped);
    const [, , pid = "", sid] = stdout.split("\n");
    const read = (path: string): Promise<string> => readFile(path, "utf8");
    expect({ status, joined: [await read(files[0] ?? ""), await read(files[1] ?? "")], sid }).toEqual({
      status: 0,
      joined: [pid, pid],
      sid: pid,
    });
  });

  test("the helper fails with 126 and a message when a join is refused", async () => {
    await using dir = await tempDir();
    const missing = join(dir.path, "missing", "cgroup.procs");
    const result = run(
      joinCommand(reportPlan(dir.path), [missing], { tools: await tools(dir.path), argv0Found: true }),
    );
    expect([result.status, result.stderr, result.stdout]).toEqual([
      126,
      `exec-server: cannot enter cgroup ${missing}\n`,
      "",
    ]);
  });

  test("the helper fails with 127 when the program is missing and 126 when it cannot run", async () => {
    await using dir = await tempDir();
    const helperTools = await tools(dir.path);
    const missing = join(dir.path, "missing");
    const notExecutable = join(dir.path, "data");
    await Bun.write(notExecutable, "data");
    const outcomes = [missing, notExecutable].map((program) => {
      const result = run(joinCommand(reportPlan(dir.path, { program, argv0: program }), [], {
        tools: helperTools,
        argv0Found: true,
      }));
      return [result.status, result.stderr];
    });
    expect(outcomes).toEqual([
      [127, `exec-server: cannot execute ${missing}\n`],
      [126, `exec-server: cannot execute ${notExecutable}\n`],
    ]);
  });

  test("the sealed helper runs the program as the file does, and nothing can write or replace it", async () => {
    await using dir = await tempDir();
    const helper = await sealedJoinHelper("bun");
    expect(helper).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    const sealed = { ...(await tools(dir.path)), helper };
    const files = [join(dir.path, "one")];
    await Bun.write(files[0] ?? "", "");
    const { stdout, status } = run(
      joinCommand(reportPlan(dir.path), files, { tools: sealed, argv0Found: true }),
    );
    const [, , pid = ""] = stdout.split("\n");
    expect({ status, joined: await readFile(files[0] ?? "", "utf8") }).toEqual({ status: 0, joined: pid });
    const outcomes = await Promise.all(
      [
        () => writeFile(helper ?? "", "x"),
        () => appendFile(helper ?? "", "x"),
        () => truncate(helper ?? "", 0),
      ].map(
        (attempt) =>
          attempt().then(
            () => "changed",
            (error: unknown) => (error instanceof Error && "code" in error ? error.code : String(error)),
          ),
      ),
    );
    expect(outcomes).toEqual(["EPERM", "EPERM", "EPERM"]);
  });
});
