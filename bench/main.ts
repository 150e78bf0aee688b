/**
 * The exec-server bench: the raw runtime floor and the same work through the server, under Bun and
 * Deno, in one run. Prints figures, ratios to the floor and targets; never asserts.
 *
 * @example
 * ```sh
 * bun bench/main.ts            # the whole run (~1 minute), a table on stdout
 * bun bench/main.ts --quick    # smaller sizes and fewer runs, a smoke run
 * bun bench/main.ts --json     # machine-readable results on stdout
 * ```
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { FloorConfig, FloorResult } from "./floor.ts";
import { measureFs } from "./fs_bench.ts";
import type { FsResult } from "./fs_bench.ts";
import { renderReport } from "./report.ts";
import { measureRoundTrip, measureSleeps, measureStdout } from "./server_bench.ts";
import type { StdoutRun } from "./server_bench.ts";
import { ROOT, runtimeCommand, RUNTIMES, startServer } from "./server_process.ts";
import type { RuntimeName } from "./server_process.ts";
import { errorText, summarize, withTimeout } from "./stats.ts";
import type { Summary } from "./stats.ts";
import { BenchClient } from "./ws_client.ts";

/** Sizes and run counts of one bench run. */
export interface BenchConfig {
  quick: boolean;
  spawnWarmup: number;
  spawnRuns: number;
  stdoutBytes: number;
  stdoutRuns: number;
  sleeps: number;
  sleepRuns: number;
  metadataCalls: number;
  fileBytes: number;
}

const MIB = 1024 * 1024;

const DEFAULT_CONFIG: BenchConfig = {
  quick: false,
  spawnWarmup: 20,
  spawnRuns: 200,
  stdoutBytes: 256 * MIB,
  stdoutRuns: 3,
  sleeps: 16,
  sleepRuns: 3,
  metadataCalls: 1000,
  fileBytes: 64 * MIB,
};

const QUICK_CONFIG: BenchConfig = {
  quick: true,
  spawnWarmup: 5,
  spawnRuns: 30,
  stdoutBytes: 32 * MIB,
  stdoutRuns: 1,
  sleeps: 16,
  sleepRuns: 1,
  metadataCalls: 200,
  fileBytes: 8 * MIB,
};

/** A runtime's floor, or why it could not be measured. */
export type FloorOutcome = ({ ok: true } & FloorResult) | { ok: false; error: string };

/** The figures of one server runtime; null figures failed, with the reason in `errors`. */
export interface ServerResult {
  ok: boolean;
  /** Why the server could not be benched at all (did not start, etc.). */
  error: string | null;
  roundTripMs: Summary | null;
  /** The same round trip measured again after the stdout runs (a server that has streamed). */
  roundTripAfterStdoutMs: Summary | null;
  /** Server resident memory right after the stdout runs (diagnostics). */
  serverRssAfterStdoutBytes: number | null;
  /** Median of `stdoutRuns`. */
  stdoutMBps: number | null;
  stdoutRuns: StdoutRun[];
  /** Median of `sleepRuns`. */
  sleeps16Ms: number | null;
  sleeps16RunsMs: number[];
  fs: FsResult | null;
  errors: Record<string, string>;
}

/** Everything one run measured. */
export interface BenchResult {
  meta: {
    date: string;
    client: string;
    cpus: number;
    /** 1-minute load average before and after the run: other work on the machine skews figures. */
    loadAverage: { before: number; after: number };
    config: BenchConfig;
    units: string;
  };
  floor: Record<RuntimeName, FloorOutcome>;
  server: Record<RuntimeName, ServerResult>;
}

function progress(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

async function measureFloorUnder(runtime: RuntimeName, config: FloorConfig): Promise<FloorOutcome> {
  progress(`floor under ${runtime}`);
  try {
    const child = Bun.spawn(
      runtimeCommand(runtime, join(ROOT, "bench", "floor.ts"), [JSON.stringify(config)]),
      {
        cwd: ROOT,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    clearTimeout(timer);
    if (code !== 0) {
      throw new Error(`floor.ts exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    }
    // floor.ts prints one FloorResult as JSON.
    return { ok: true, ...(JSON.parse(stdout) as FloorResult) };
  } catch (error) {
    return { ok: false, error: errorText(error) };
  }
}

async function figure<T>(
  errors: Record<string, string>,
  name: string,
  timeoutMs: number,
  measure: () => Promise<T>,
): Promise<T | null> {
  try {
    return await withTimeout(name, timeoutMs, measure());
  } catch (error) {
    errors[name] = errorText(error);
    return null;
  }
}

/** Opens a fresh session for one figure, so a broken figure does not poison the next. */
async function withClient<T>(url: string, use: (client: BenchClient) => Promise<T>): Promise<T> {
  const client = await BenchClient.open(url);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

async function benchServer(
  runtime: RuntimeName,
  config: BenchConfig,
  dir: string,
  file: string,
): Promise<ServerResult> {
  const result: ServerResult = {
    ok: false,
    error: null,
    roundTripMs: null,
    roundTripAfterStdoutMs: null,
    serverRssAfterStdoutBytes: null,
    stdoutMBps: null,
    stdoutRuns: [],
    sleeps16Ms: null,
    sleeps16RunsMs: [],
    fs: null,
    errors: {},
  };
  progress(`server under ${runtime}: starting`);
  let server;
  try {
    server = await startServer(runtime);
  } catch (error) {
    result.error = `server did not start: ${errorText(error)}`;
    return result;
  }
  try {
    const url = server.url;
    result.ok = true;
    progress(`server under ${runtime}: round trips`);
    result.roundTripMs = await figure(
      result.errors,
      "roundTripMs",
      120_000,
      () => withClient(url, (client) => measureRoundTrip(client, dir, config.spawnWarmup, config.spawnRuns)),
    );

    progress(`server under ${runtime}: stdout`);
    await figure(result.errors, "stdoutMBps", 120_000, () =>
      withClient(url, async (client) => {
        for (let i = 0; i < config.stdoutRuns; i++) {
          const serverCpu = await server.cpuMs();
          const clientCpu = process.cpuUsage();
          const run = await measureStdout(client, `stdout-${i}`, dir, config.stdoutBytes);
          const serverCpuAfter = await server.cpuMs();
          const clientUsage = process.cpuUsage(clientCpu);
          run.clientCpuMs = (clientUsage.user + clientUsage.system) / 1000;
          if (serverCpu !== null && serverCpuAfter !== null) run.serverCpuMs = serverCpuAfter - serverCpu;
          result.stdoutRuns.push(run);
        }
      }));
    if (result.stdoutRuns.length > 0) {
      result.stdoutMBps = summarize(result.stdoutRuns.map((run) => run.mbps)).median;
    }
    result.serverRssAfterStdoutBytes = await server.rssBytes();

    progress(`server under ${runtime}: round trips after stdout`);
    result.roundTripAfterStdoutMs = await figure(
      result.errors,
      "roundTripAfterStdoutMs",
      120_000,
      () =>
        withClient(
          url,
          (client) => measureRoundTrip(client, dir, 5, Math.max(20, Math.round(config.spawnRuns / 4))),
        ),
    );

    progress(`server under ${runtime}: concurrent sleeps`);
    await figure(result.errors, "sleeps16Ms", 30_000, () =>
      withClient(url, async (client) => {
        for (let i = 0; i < config.sleepRuns; i++) {
          result.sleeps16RunsMs.push(await measureSleeps(client, dir, `sleep-${i}`, config.sleeps));
        }
      }));
    if (result.sleeps16RunsMs.length > 0) result.sleeps16Ms = summarize(result.sleeps16RunsMs).median;

    progress(`server under ${runtime}: fs`);
    result.fs = await figure(
      result.errors,
      "fs",
      120_000,
      () => measureFs(url, { dir, file, fileBytes: config.fileBytes, metadataCalls: config.metadataCalls }),
    );
    if (Object.keys(result.errors).length > 0) {
      const log = server.stderr().trim();
      if (log !== "") result.errors["serverLog"] = log.split("\n").slice(-5).join(" | ");
    }
  } finally {
    await server.stop();
  }
  return result;
}

function parseArgs(args: readonly string[]): { config: BenchConfig; json: boolean; runtimes: RuntimeName[] } {
  let quick = false;
  let json = false;
  const runtimes: RuntimeName[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--quick") quick = true;
    else if (arg === "--json") json = true;
    else if (arg === "--runtime") {
      const name = args[++i];
      if (name !== "bun" && name !== "deno") usage(`--runtime takes bun or deno, not ${String(name)}`);
      runtimes.push(name);
    } else if (arg === "--help" || arg === "-h") {
      process.stdout.write(HELP);
      process.exit(0);
    } else usage(`unknown argument ${String(arg)}`);
  }
  return {
    config: quick ? QUICK_CONFIG : DEFAULT_CONFIG,
    json,
    runtimes: runtimes.length > 0 ? runtimes : [...RUNTIMES],
  };
}

const HELP = `usage: bun bench/main.ts [--quick] [--json] [--runtime bun|deno]...
  --quick     fewer runs and smaller sizes (a smoke run, ~10 s)
  --json      print the results as JSON instead of the table
  --runtime   measure only this runtime (repeatable; default both)
`;

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n${HELP}`);
  process.exit(2);
}

/** Runs the whole bench and resolves with its results. */
export async function runBench(config: BenchConfig, runtimes: readonly RuntimeName[]): Promise<BenchResult> {
  const loadBefore = loadavg()[0] ?? 0;
  const dir = await mkdtemp(join(tmpdir(), "exec-server-bench-"));
  try {
    const file = join(dir, "data.bin");
    await writeFile(file, randomBytes(config.fileBytes));
    const floorConfig: FloorConfig = {
      spawnWarmup: config.spawnWarmup,
      spawnRuns: config.spawnRuns,
      pipeBytes: config.stdoutBytes,
      sleeps: config.sleeps,
      statCalls: config.metadataCalls,
      readFilePath: file,
    };
    const skipped = { ok: false as const, error: "not measured (--runtime)" };
    const floor: Record<RuntimeName, FloorOutcome> = { bun: skipped, deno: skipped };
    const server: Record<RuntimeName, ServerResult> = {
      bun: notMeasured(),
      deno: notMeasured(),
    };
    for (const runtime of runtimes) floor[runtime] = await measureFloorUnder(runtime, floorConfig);
    for (const runtime of runtimes) server[runtime] = await benchServer(runtime, config, dir, file);
    return {
      meta: {
        date: new Date().toISOString(),
        client: `one WebSocket client under bun ${Bun.version} for both servers`,
        cpus: cpus().length,
        loadAverage: { before: loadBefore, after: loadavg()[0] ?? 0 },
        config,
        units: "ms = milliseconds; MB/s = 10^6 bytes per second of decoded payload",
      },
      floor,
      server,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function notMeasured(): ServerResult {
  return {
    ok: false,
    error: "not measured (--runtime)",
    roundTripMs: null,
    roundTripAfterStdoutMs: null,
    serverRssAfterStdoutBytes: null,
    stdoutMBps: null,
    stdoutRuns: [],
    sleeps16Ms: null,
    sleeps16RunsMs: [],
    fs: null,
    errors: {},
  };
}

if (import.meta.main) {
  const { config, json, runtimes } = parseArgs(process.argv.slice(2));
  const result = await runBench(config, runtimes);
  process.stdout.write(json ? JSON.stringify(result, null, 2) + "\n" : renderReport(result));
}
