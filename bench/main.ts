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
import process from "node:process";
import type { EchoConfig } from "./echo_bench.ts";
import type { FloorConfig, FloorResult } from "./floor.ts";
import { echoMicros } from "./latency_bench.ts";
import { onOneCpu } from "./one_cpu.ts";
import { renderReport } from "./report.ts";
import { benchServer, notMeasured } from "./server_run.ts";
import type { ServerConfig, ServerResult } from "./server_run.ts";
import {
  DEFAULT_REFERENCE_DIR,
  resolveReference,
  ROOT,
  runtimeCommand,
  RUNTIMES,
  startCommand,
  startReference,
  startServer,
} from "./server_process.ts";
import type { RuntimeName } from "./server_process.ts";
import { errorText } from "./stats.ts";

/** Sizes and run counts of one bench run. */
export interface BenchConfig extends ServerConfig {
  quick: boolean;
  /** Spawns the floor times (the server's round trips are `roundTrips`). */
  spawnRuns: number;
}

const MIB = 1024 * 1024;
const KIB = 1024;

/**
 * How long a detached session keeps its output: ours the default `--session-ttl` (PROTOCOL.md
 * §3.10, the servers here run with defaults); the reference's, measured, about 80 s (after three
 * echo runs its RSS stayed at 111 MiB for 70 s after the clients left and fell to 85 by 80 s).
 */
const OUR_RETENTION_MS = 30_000;
const REFERENCE_RETENTION_MS = 80_000;

const ECHO: EchoConfig = { connections: 8, processes: 8, bytes: 256 * KIB, writeBytes: 64 * KIB };

const DEFAULT_CONFIG: BenchConfig = {
  quick: false,
  spawnWarmup: 20,
  spawnRuns: 200,
  roundTrips: 1000,
  stdoutBytes: 256 * MIB,
  stdoutRuns: 3,
  sleeps: 16,
  sleepRuns: 3,
  metadataCalls: 1000,
  fileBytes: 64 * MIB,
  latencyWarmup: 200,
  latencyCalls: 2000,
  echo: ECHO,
  echoRuns: 3,
  connects: 40,
  pipelinedStarts: 100,
  ptyBytes: 64 * MIB,
  writes: 10_000,
};

const QUICK_CONFIG: BenchConfig = {
  quick: true,
  spawnWarmup: 3,
  spawnRuns: 20,
  roundTrips: 20,
  stdoutBytes: 8 * MIB,
  stdoutRuns: 1,
  sleeps: 16,
  sleepRuns: 1,
  metadataCalls: 100,
  fileBytes: 4 * MIB,
  latencyWarmup: 10,
  latencyCalls: 100,
  echo: { connections: 2, processes: 2, bytes: 32 * KIB, writeBytes: 16 * KIB },
  echoRuns: 1,
  connects: 5,
  pipelinedStarts: 20,
  ptyBytes: 2 * MIB,
  writes: 200,
};

/** A runtime's floor, or why it could not be measured. */
export type FloorOutcome =
  | ({
    ok: true; /** Sequential round trip through a bare echo server (µs); null if it failed. */
    wsEchoMicros: number | null;
    /** The same with the bench and the echo server on one CPU (`one_cpu.ts`). */
    oneCpuWsEchoMicros: number | null;
  } & FloorResult)
  | { ok: false; error: string };

export type { ServerResult };

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

async function measureFloorUnder(runtime: RuntimeName, config: FloorConfig): Promise<FloorResult> {
  const child = Bun.spawn(
    runtimeCommand(runtime, join(ROOT, "bench", "floor.ts"), [JSON.stringify(config)]),
    { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
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
  return JSON.parse(stdout) as FloorResult;
}

/**
 * The sequential round trip through the runtime's bare WebSocket echo server, µs: as the scheduler
 * places the two, and with both on one CPU (null where they cannot be moved).
 */
async function measureWsEcho(
  runtime: RuntimeName,
  config: BenchConfig,
  dir: string,
): Promise<{ wsEchoMicros: number; oneCpuWsEchoMicros: number | null }> {
  const server = await startCommand(runtimeCommand(runtime, join(ROOT, "bench", "ws_echo_server.ts")));
  try {
    const params = { path: `file://${dir}`, sandbox: null };
    const latency = { warmup: config.latencyWarmup, calls: config.latencyCalls };
    const wsEchoMicros = await echoMicros(server.url, params, latency);
    const oneCpuWsEchoMicros = await onOneCpu(server.pid, () => echoMicros(server.url, params, latency));
    return { wsEchoMicros, oneCpuWsEchoMicros };
  } finally {
    await server.stop();
  }
}

async function floorOf(
  runtime: RuntimeName,
  floorConfig: FloorConfig,
  config: BenchConfig,
  dir: string,
): Promise<FloorOutcome> {
  progress(`floor under ${runtime}`);
  let floor: FloorResult;
  try {
    floor = await measureFloorUnder(runtime, floorConfig);
  } catch (error) {
    return { ok: false, error: errorText(error) };
  }
  let echo: { wsEchoMicros: number | null; oneCpuWsEchoMicros: number | null } = {
    wsEchoMicros: null,
    oneCpuWsEchoMicros: null,
  };
  try {
    echo = await measureWsEcho(runtime, config, dir);
  } catch (error) {
    progress(`websocket echo floor under ${runtime} failed: ${errorText(error)}`);
  }
  return { ok: true, ...floor, ...echo };
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
                PTY output and small writes, and print every figure of issue 20 with its target
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
      echo: config.echo,
    };
    const skipped = { ok: false as const, error: "not measured (--runtime)" };
    const floor: Record<RuntimeName, FloorOutcome> = { bun: skipped, deno: skipped };
    const server: Record<RuntimeName, ServerResult> = { bun: notMeasured(), deno: notMeasured() };
    for (const runtime of runtimes) floor[runtime] = await floorOf(runtime, floorConfig, config, dir);
    const extra = referenceBinary !== null;
    for (const runtime of runtimes) {
      server[runtime] = await benchServer(
        {
          name: runtime,
          start: () => startServer(runtime),
          uriCwd: false,
          extra,
          retentionMs: OUR_RETENTION_MS,
        },
        config,
        dir,
        file,
      );
    }
    const referenceResult = referenceBinary === null ? null : await benchServer(
      {
        name: "reference",
        start: () => startReference(referenceBinary),
        uriCwd: true,
        extra,
        retentionMs: REFERENCE_RETENTION_MS,
      },
      config,
      dir,
      file,
    );
    return {
      meta: {
        date: new Date().toISOString(),
        client: `one WebSocket client under bun ${Bun.version} for every server, no permessage-deflate`,
        cpus: cpus().length,
        loadAverage: { before: loadBefore, after: loadavg()[0] ?? 0 },
        config,
        units: "ms = milliseconds; µs = microseconds; MB/s = 10^6 bytes per second of decoded payload",
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

if (import.meta.main) {
  const { config, json, runtimes, reference } = parseArgs(process.argv.slice(2));
  const result = await runBench(config, runtimes, reference);
  process.stdout.write(json ? JSON.stringify(result, null, 2) + "\n" : renderReport(result));
}
