import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers/temp_dir.ts";
import { KNOWN_BUDGET_MS, MAX_KNOWN_CANDIDATES } from "../../src/process/program_lookup.ts";

const REPO = resolve(import.meta.dir, "../..");
const FIXTURE = join(REPO, "test/fixtures/header_problem_fixture.ts");
const RUNTIMES = {
  bun: [process.execPath, FIXTURE],
  deno: [join(REPO, "node_modules/.bin/deno"), "run", "-A", FIXTURE],
} as const;

/** `headerProblem` of `path` as the runtime answers it, and how its process ended. */
async function answer(runtime: keyof typeof RUNTIMES, path: string): Promise<{ out: string; code: number }> {
  const [program, ...args] = RUNTIMES[runtime];
  const child = Bun.spawn([program, ...args, path], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { out: out.trim() || err.trim(), code };
}

describe.each(["bun", "deno"] as const)("the program header check on %s", (runtime) => {
  test("answers at once for a FIFO a sandbox renamed over the program, never waiting for a writer", async () => {
    // The server opens a sandboxed process's program as itself, after a stat that saw a regular
    // file: a sandbox exchanging it with a FIFO of its writable root held a thread of the server's
    // pool per start, and a few stopped every file operation of the server.
    await using dir = await tempDir();
    const fifo = join(dir.path, "run");
    const made = spawnSync("mkfifo", [fifo]);
    expect(made.status).toBe(0);
    await chmod(fifo, 0o755);
    expect(await answer(runtime, fifo)).toEqual({ out: '"EACCES"', code: 0 });
  });

  test("still tells a script and an ELF image from a file the kernel cannot execute", async () => {
    await using dir = await tempDir();
    const script = join(dir.path, "script");
    await writeFile(script, "#!/bin/sh\necho hi\n");
    const text = join(dir.path, "text");
    await writeFile(text, "echo hi\n");
    expect(await answer(runtime, script)).toEqual({ out: "null", code: 0 });
    expect(await answer(runtime, "/bin/sh")).toEqual({ out: "null", code: 0 });
    expect(await answer(runtime, text)).toEqual({ out: '"ENOEXEC"', code: 0 });
  });
});

const LOOKUP_FIXTURE = join(REPO, "test/fixtures/program_lookup_fixture.ts");

/** The lookups of `steps`, made in one process under `runtime` with its root-mount stat. */
async function lookups(
  runtime: keyof typeof RUNTIMES,
  steps: unknown[],
): Promise<{ opened: boolean; results: { found: string; known: boolean; asked: number }[] }> {
  const [program, , ...rest] = RUNTIMES[runtime];
  const args = runtime === "bun" ? [LOOKUP_FIXTURE] : [...rest.slice(0, -1), LOOKUP_FIXTURE];
  const child = Bun.spawn([program, ...args, JSON.stringify(steps)], {
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  expect(err).toBe("");
  return JSON.parse(out) as { opened: boolean; results: { found: string; known: boolean; asked: number }[] };
}

describe.each(["bun", "deno"] as const)("the program lookup on %s's thread", (runtime) => {
  test("answers a program found before as the search does, and searches again for what changed", async () => {
    await using dir = await tempDir();
    const early = join(dir.path, "early");
    spawnSync("mkdir", [early]);
    const path = `${join(dir.path, "none")}:${early}:/usr/bin:/bin`;
    const truePath = existsSync("/usr/bin/true") ? "/usr/bin/true" : "/bin/true";
    const search = { lookup: ["true", dir.path, path] };
    const steps = [
      // The server's 1 ms budget is wall time: on a busy machine a walk of three entries can be
      // preempted past it, and the search would answer instead; this case is about the answers.
      { budgetMs: 60_000 },
      search,
      search,
      { lookup: ["/bin/true", dir.path, path] },
      { lookup: ["/bin/true", dir.path, path] },
      { lookup: ["./missing", dir.path, path] },
      { lookup: ["missing-program-name", dir.path, path] },
      // A `true` that appears earlier in PATH, not executable: the search skips it as before.
      { write: join(early, "true"), text: "#!/bin/sh\n", mode: 0o644 },
      search,
      // Now executable: it is the program.
      { write: join(early, "true"), text: "#!/bin/sh\n", mode: 0o755 },
      search,
    ];
    const { opened, results } = await lookups(runtime, steps);
    expect(opened).toBe(true);
    expect(results.map(({ found, known }) => ({ found, known }))).toEqual([
      { found: truePath, known: false },
      { found: truePath, known: true },
      { found: "/bin/true", known: false },
      { found: "/bin/true", known: true },
      { found: expect.stringMatching(/^program \.\/missing: No such file or directory/), known: false },
      {
        found: expect.stringMatching(/^program missing-program-name: No such file or directory/),
        known: false,
      },
      { found: truePath, known: false },
      { found: join(early, "true"), known: false },
    ]);
  });

  test("walks a bounded part of a long PATH on the server's thread, and searches the rest as before", async () => {
    // Each entry is a walk made on the server's only thread: a PATH of 200,000 missing entries
    // (800 KB, within a start's 1 MiB) held every other session's requests 5.7 s (Bun) and 6.0 s
    // (Deno), where the search through the thread pool let them through between its entries.
    await using dir = await tempDir();
    const truePath = existsSync("/usr/bin/true") ? "/usr/bin/true" : "/bin/true";
    // Relative entries, `none` in the cwd, keep the fixture's command line short.
    const missing = Array.from({ length: 10_000 }, () => "none").join(":");
    const steps = [
      { lookup: ["true", dir.path, "/usr/bin:/bin"] },
      { lookup: ["true", dir.path, `${missing}:/usr/bin:/bin`] },
    ];
    const { opened, results } = await lookups(runtime, steps);
    expect(opened).toBe(true);
    expect(results[1]?.found).toBe(truePath);
    expect(results[1]?.asked).toBeLessThanOrEqual(MAX_KNOWN_CANDIDATES + 1);
  });

  test("stops walking on the server's thread once the walks took longer than its budget", async () => {
    // A PATH entry can be a chain of symbolic links through a deep tree: one such walk took
    // 18-53 ms here, and a start's PATH may repeat it for each of its entries.
    await using dir = await tempDir();
    const truePath = existsSync("/usr/bin/true") ? "/usr/bin/true" : "/bin/true";
    const missing = Array.from({ length: 10 }, (_, index) => join(dir.path, `none${index}`)).join(":");
    const steps = [
      { lookup: ["true", dir.path, "/usr/bin:/bin"] },
      { statTakesMs: KNOWN_BUDGET_MS * 3 },
      { lookup: ["true", dir.path, `${missing}:/usr/bin:/bin`] },
    ];
    const { opened, results } = await lookups(runtime, steps);
    expect(opened).toBe(true);
    // One walk on the thread, over budget; then the search, which asks once more for what it found.
    expect(results[1]).toEqual({ found: truePath, known: false, asked: 2 });
  });
});
