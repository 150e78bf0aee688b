/**
 * The exec-server bench: the raw runtime floor and the same work through the server, under Bun and
 * Deno, in one run. Prints figures, ratios to the floor and targets; never asserts.
 *
 * @example
 * ```sh
 * bun bench/main.ts            # the whole run (~1 minute), a table on stdout
 * bun bench/main.ts --quick    # smaller sizes and fewer runs, a smoke run
 * bun bench/main.ts --json     # machine-readable results on stdout
 * bun bench/main.ts --reference /tmp/codexref   # also the Codex reference server, and more figures
 * ```
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import process from "node:process";
import type { FloorConfig, FloorResult } from "./floor.ts";
import { measureFs } from "./fs_bench.ts";
import type { FsResult } from "./fs_bench.ts";
import { emptyExtra, measurePipelinedStarts, measurePty, measureWrites } from "./extra_bench.ts";
import type { ExtraResult } from "./extra_bench.ts";
import { renderReport } from "./report.ts";
import { measureRoundTrip, measureSleeps, measureStdout } from "./server_bench.ts";
import type { StdoutRun } from "./server_bench.ts";
import {
  DEFAULT_REFERENCE_DIR,
  resolveReference,
  ROOT,
  runtimeCommand,
  RUNTIMES,
  startReference,
  startServer,
} from "./server_process.ts";
import type { RuntimeName, ServerProcess } from "./server_process.ts";
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
  /** The extra figures, measured only with `--reference`. */
  pipelinedStarts: number;
  ptyBytes: number;
  writes: number;
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
  pipelinedStarts: 100,
  ptyBytes: 64 * MIB,
  writes: 10_000,
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
  pipelinedStarts: 100,
  ptyBytes: 8 * MIB,
  writes: 1000,
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
  /** The figures measured only with `--reference`; null without it. */
  extra: ExtraResult | null;
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
    /** The reference binary and its version, with `--reference`; null without it. */
    reference: { binary: string; version: string } | null;
  };
  floor: Record<RuntimeName, FloorOutcome>;
  server: Record<RuntimeName, ServerResult>;
  /** The reference server's figures, with `--reference`; null without it. */
  reference: ServerResult | null;
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

/** What one server column needs: how to start it and how it wants `cwd`. */
interface Target {
  name: string;
  start: () => Promise<ServerProcess>;
  /** The reference accepts only file:// URIs; ours takes native paths as well. */
  uriCwd: boolean;
  /** Measure the extra figures (with `--reference`). */
  extra: boolean;
}

async function benchServer(
  target: Target,
  config: BenchConfig,
  benchDir: string,
  file: string,
): Promise<ServerResult> {
  const runtime = target.name;
  const dir = target.uriCwd ? pathToFileURL(benchDir).href : benchDir;
  const result: ServerResult = notMeasured();
  result.error = null;
  progress(`server under ${runtime}: starting`);
  let server;
  try {
    server = await target.start();
  } catch (error) {
    result.error = `server did not start: ${errorText(error)}`;
    return result;
  }
  try {
    const url = server.url;
    result.ok = true;
    if (target.extra) {
      result.extra = emptyExtra(config.pipelinedStarts, config.writes);
      await withClient(url, async () => {});
      await new Promise((resolve) => setTimeout(resolve, 200));
      result.extra.idleRssBytes = await server.rssBytes();
    }
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

    const extra = result.extra;
    if (extra !== null) {
      progress(`server under ${runtime}: pipelined starts`);
      extra.pipelinedStartsMs = await figure(
        result.errors,
        "pipelinedStartsMs",
        60_000,
        () =>
          withClient(
            url,
            (client) => measurePipelinedStarts(client, dir, "pipelined", config.pipelinedStarts),
          ),
      );
      progress(`server under ${runtime}: pty`);
      const pty = await figure(
        result.errors,
        "ptyMBps",
        120_000,
        () => withClient(url, (client) => measurePty(client, dir, "pty", config.ptyBytes)),
      );
      extra.ptyMBps = pty?.mbps ?? null;
      extra.ptyBytes = pty?.bytes ?? null;
      progress(`server under ${runtime}: small writes`);
      const writes = await figure(
        result.errors,
        "writesPerSecond",
        60_000,
        () => withClient(url, (client) => measureWrites(client, dir, "writes", config.writes)),
      );
      extra.writesPerSecond = writes?.perSecond ?? null;
      extra.writesDone = writes?.done ?? null;
    }

    progress(`server under ${runtime}: fs`);
    result.fs = await figure(
      result.errors,
      "fs",
      120_000,
      () =>
        measureFs(url, {
          dir: benchDir,
          file,
          fileBytes: config.fileBytes,
          metadataCalls: config.metadataCalls,
          uriSandboxPaths: target.uriCwd,
        }),
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

interface Args {
  config: BenchConfig;
  json: boolean;
  runtimes: RuntimeName[];
  /** The path given to --reference (DEFAULT_REFERENCE_DIR when bare); null without it. */
  reference: string | null;
}

function parseArgs(args: readonly string[]): Args {
  let quick = false;
  let json = false;
  let reference: string | null = null;
  const runtimes: RuntimeName[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--quick") quick = true;
    else if (arg === "--reference") {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) reference = DEFAULT_REFERENCE_DIR;
      else reference = args[++i] ?? DEFAULT_REFERENCE_DIR;
    } else if (arg?.startsWith("--reference=") === true) reference = arg.slice("--reference=".length);
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
    reference,
  };
}

const HELP = `usage: bun bench/main.ts [--quick] [--json] [--runtime bun|deno]... [--reference [PATH]]
  --quick       fewer runs and smaller sizes (a smoke run, ~10 s)
  --json        print the results as JSON instead of the table
  --runtime     measure only this runtime (repeatable; default both)
  --reference   also bench the Codex exec-server at PATH (the codex binary, its codex.js wrapper or
                an npm install directory; default ${DEFAULT_REFERENCE_DIR}), add pipelined starts,
                PTY output, small writes and idle RSS, and print ours ÷ reference
`;

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n${HELP}`);
  process.exit(2);
}

async function referenceVersion(binary: string): Promise<string> {
  const child = Bun.spawn([binary, "--version"], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  const text = await new Response(child.stdout).text();
  await child.exited;
  return text.trim();
}

/**
 * Runs the whole bench and resolves with its results; with `reference` (a path for
 * `resolveReference`) also the reference server and the extra figures.
 */
export async function runBench(
  config: BenchConfig,
  runtimes: readonly RuntimeName[],
  reference: string | null = null,
): Promise<BenchResult> {
  const referenceBinary = reference === null ? null : await resolveReference(reference);
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
    const extra = referenceBinary !== null;
    for (const runtime of runtimes) {
      server[runtime] = await benchServer(
        { name: runtime, start: () => startServer(runtime), uriCwd: false, extra },
        config,
        dir,
        file,
      );
    }
    const referenceResult = referenceBinary === null ? null : await benchServer(
      { name: "reference", start: () => startReference(referenceBinary), uriCwd: true, extra },
      config,
      dir,
      file,
    );
    return {
      meta: {
        date: new Date().toISOString(),
        client: `one WebSocket client under bun ${Bun.version} for both servers`,
        cpus: cpus().length,
        loadAverage: { before: loadBefore, after: loadavg()[0] ?? 0 },
        config,
        units: "ms = milliseconds; MB/s = 10^6 bytes per second of decoded payload",
        reference: referenceBinary === null
          ? null
          : { binary: referenceBinary, version: await referenceVersion(referenceBinary) },
      },
      floor,
      server,
      reference: referenceResult,
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
    extra: null,
    errors: {},
  };
}

if (import.meta.main) {
  const { config, json, runtimes, reference } = parseArgs(process.argv.slice(2));
  const result = await runBench(config, runtimes, reference);
  process.stdout.write(json ? JSON.stringify(result, null, 2) + "\n" : renderReport(result));
}
