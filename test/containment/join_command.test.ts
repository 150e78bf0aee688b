import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import { findJoinTools, joinCommand } from "../../src/containment/mod.ts";
import type { JoinTools } from "../../src/containment/mod.ts";
import type { SpawnPlan } from "../../src/runtime/mod.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const TOOLS: JoinTools = { helper: null, shell: "/bin/sh", shellKeepsEnv: true, perl: "/usr/bin/perl" };

/** A plan that prints its own argv and environment, NUL-separated. */
function catPlan(cwd: string, overrides: Partial<SpawnPlan>): SpawnPlan {
  return {
    program: "/bin/cat",
    args: ["/proc/self/cmdline", "/proc/self/environ"],
    argv0: "/bin/cat",
    cwd,
    env: {},
    stdin: "null",
    ...overrides,
  };
}

/** Runs a plan the way the runtimes do and returns what the program saw. */
function run(plan: SpawnPlan): { argv: string[]; env: string[]; status: number | null; stderr: string } {
  const result = spawnSync(plan.program, plan.args, {
    argv0: plan.argv0,
    cwd: plan.cwd,
    env: { ...plan.env },
  });
  const fields = result.stdout.toString("latin1").split("\0").slice(0, -1);
  return {
    argv: fields.slice(0, 3),
    env: fields.slice(3).sort(),
    status: result.status,
    stderr: result.stderr.toString(),
  };
}

describe("joinCommand", () => {
  test("joinCommand runs a program by path with exactly its environment", async () => {
    await using dir = await tempDir();
    const plan = catPlan(dir.path, { env: { B: "two words", A: "1" } });
    const wrapped = joinCommand(plan, [], { tools: TOOLS, argv0Found: true });
    expect(wrapped.program).toBe("/bin/sh");
    expect(run(wrapped)).toEqual({
      argv: ["/bin/cat", "/proc/self/cmdline", "/proc/self/environ"],
      env: ["A=1", "B=two words"],
      status: 0,
      stderr: "",
    });
  });

  test("joinCommand keeps a given PWD and adds none", async () => {
    await using dir = await tempDir();
    const given = run(joinCommand(catPlan(dir.path, { env: { PWD: "/elsewhere" } }), [], {
      tools: TOOLS,
      argv0Found: true,
    }));
    expect(given.env).toEqual(["PWD=/elsewhere"]);
  });

  test("joinCommand finds a bare argv[0] on the server's PATH without giving the child one", async () => {
    await using dir = await tempDir();
    const wrapped = joinCommand(catPlan(dir.path, { argv0: "cat" }), [], { tools: TOOLS, argv0Found: true });
    expect(wrapped.program).toBe("/bin/sh");
    expect(run(wrapped)).toMatchObject({
      argv: ["cat", "/proc/self/cmdline", "/proc/self/environ"],
      env: [],
    });
  });

  test("joinCommand sets another argv[0] and names dash would drop through perl", async () => {
    await using dir = await tempDir();
    const plan = catPlan(dir.path, { argv0: "renamed", env: { "a.b": "1", PPID: "7", IFS: ":" } });
    const wrapped = joinCommand(plan, [], { tools: TOOLS, argv0Found: false });
    expect([wrapped.program, wrapped.env]).toEqual(["/usr/bin/perl", {}]);
    expect(run(wrapped)).toMatchObject({
      argv: ["renamed", "/proc/self/cmdline", "/proc/self/environ"],
      env: ["IFS=:", "PPID=7", "a.b=1"],
      status: 0,
    });
  });

  test("joinCommand without perl runs the program under its path", async () => {
    await using dir = await tempDir();
    const wrapped = joinCommand(catPlan(dir.path, { argv0: "renamed" }), [], {
      tools: { ...TOOLS, perl: null },
      argv0Found: false,
    });
    expect(run(wrapped).argv[0]).toBe("/bin/cat");
  });

  test.each([true, false])(
    "joinCommand writes the pid into each join file first (perl: %p)",
    async (viaPerl) => {
      await using dir = await tempDir();
      const files = [join(dir.path, "one"), join(dir.path, "two")];
      const argv0 = viaPerl ? "renamed" : "/bin/sh";
      const plan = catPlan(dir.path, { program: "/bin/sh", argv0, args: ["-c", "echo $$ > pid"] });
      const wrapped = joinCommand(plan, files, { tools: TOOLS, argv0Found: !viaPerl });
      expect([wrapped.program, run(wrapped).status]).toEqual([viaPerl ? "/usr/bin/perl" : "/bin/sh", 0]);
      const read = (path: string): Promise<string> => readFile(path, "utf8").then((text) => text.trim());
      const pid = await read(join(dir.path, "pid"));
      expect([await read(files[0] ?? ""), await read(files[1] ?? "")]).toEqual([pid, pid]);
    },
  );

  test("joinCommand fails with 126 and a message when a join is refused", async () => {
    await using dir = await tempDir();
    const missing = join(dir.path, "missing", "cgroup.procs");
    const result = run(joinCommand(catPlan(dir.path, {}), [missing], { tools: TOOLS, argv0Found: true }));
    expect([result.status, result.stderr]).toEqual([126, `exec-server: cannot enter cgroup ${missing}\n`]);
  });

  test("findJoinTools picks a shell that keeps the environment exactly when the host has dash", async () => {
    const dashes = await Promise.all(
      ["/bin/sh", "/usr/bin/dash", "/bin/dash"].map((path) =>
        realpath(path).then((real) => real.endsWith("/dash"), () => false)
      ),
    );
    expect((await findJoinTools()).shellKeepsEnv).toBe(dashes.includes(true));
  });
});
