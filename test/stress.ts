/**
 * Runs the whole suite (`npm test`) several times and reports every test that failed, with how
 * often: `npm run test:stress -- --runs N [--load]`. With `--load`, two busy loops keep both cores
 * of a two-core machine busy for the whole time, as a CI neighbour would. Exits 1 when any run
 * failed.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const ROOT = new URL("..", import.meta.url).pathname;
const BUSY_LOOPS = 2;

interface RunOutcome {
  readonly exitCode: number | null;
  readonly seconds: number;
  readonly passed: number;
  readonly failed: string[];
  /** Every test's time in this run, in ms. */
  readonly times: Map<string, number>;
  /** Everything the run printed. */
  readonly output: string;
}

/** How many of the slowest tests the summary lists. */
const SLOWEST_SHOWN = 8;

/** `--runs N` and `--load` from the command line. */
function parseArgs(argv: readonly string[]): { runs: number; load: boolean } {
  let runs = 1;
  let load = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--load") {
      load = true;
    } else if (arg === "--runs" || arg?.startsWith("--runs=")) {
      const value = arg === "--runs" ? argv[++i] : arg.slice("--runs=".length);
      runs = Number(value);
      if (!Number.isSafeInteger(runs) || runs < 1) {
        throw new RangeError(`--runs: expected a count, got ${value}`);
      }
    } else {
      throw new RangeError(`unknown argument ${arg} (usage: --runs N [--load])`);
    }
  }
  return { runs, load };
}

/** Starts a busy loop in a process group of its own, so stopping it kills the whole group. */
function busyLoop(): ChildProcess {
  return spawn("sh", ["-c", "while :; do :; done"], { detached: true, stdio: "ignore" });
}

function stop(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Runs `npm test` once, echoing nothing, and collects the failing test names. */
async function runSuite(): Promise<RunOutcome> {
  const started = performance.now();
  const child = spawn("npm", ["test", "--silent"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (data: Buffer) => void (output += data.toString()));
  child.stderr?.on("data", (data: Buffer) => void (output += data.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const failed = new Set<string>();
  for (const match of output.matchAll(/^\(fail\) (.+?)(?: \[[\d.]+m?s\])?$/gm)) {
    if (match[1] !== undefined) failed.add(match[1]);
  }
  const times = new Map<string, number>();
  for (const match of output.matchAll(/^\((?:pass|fail)\) (.+) \[([\d.]+)(m?s)\]$/gm)) {
    const [, name, value, unit] = match;
    if (name !== undefined) times.set(name, Number(value) * (unit === "s" ? 1000 : 1));
  }
  const passed = Number(/^\s*(\d+) pass$/m.exec(output)?.[1] ?? 0);
  return {
    exitCode,
    seconds: (performance.now() - started) / 1000,
    passed,
    failed: [...failed],
    times,
    output,
  };
}

async function main(): Promise<void> {
  const { runs, load } = parseArgs(process.argv.slice(2));
  const loops = load ? Array.from({ length: BUSY_LOOPS }, busyLoop) : [];
  // The loops run in groups of their own: an interrupted stress run must not leave them spinning.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const loop of loops) stop(loop);
      process.exit(130);
    });
  }
  const failures = new Map<string, number>();
  const slowest = new Map<string, number>();
  let failedRuns = 0;
  try {
    for (let run = 1; run <= runs; run++) {
      const outcome = await runSuite();
      const ok = outcome.exitCode === 0 && outcome.failed.length === 0 && outcome.passed > 0;
      let kept = "";
      if (!ok) {
        failedRuns++;
        // The whole output of a failed run stays for reading: the summary names only the tests.
        const path = join(tmpdir(), `exec-server-stress-${process.pid}-run${run}.log`);
        await writeFile(path, outcome.output);
        kept = `, output in ${path}`;
      }
      for (const name of outcome.failed) failures.set(name, (failures.get(name) ?? 0) + 1);
      for (const [name, ms] of outcome.times) slowest.set(name, Math.max(ms, slowest.get(name) ?? 0));
      console.log(
        `run ${run}/${runs}${
          load ? " (loaded)" : ""
        }: ${outcome.passed} passed, ${outcome.failed.length} failed, ` +
          `exit ${outcome.exitCode}, ${outcome.seconds.toFixed(1)} s${kept}`,
      );
    }
  } finally {
    for (const loop of loops) stop(loop);
  }
  console.log(`\n${runs - failedRuns} of ${runs} runs green${load ? " under load" : ""}`);
  for (const [name, count] of [...failures].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${count}× ${name}`);
  }
  console.log(`slowest tests (longest time seen):`);
  for (const [name, ms] of [...slowest].sort((a, b) => b[1] - a[1]).slice(0, SLOWEST_SHOWN)) {
    console.log(`  ${(ms / 1000).toFixed(1)} s  ${name}`);
  }
  process.exitCode = failedRuns === 0 ? 0 : 1;
}

await main();
