/**
 * One server's column of the bench: every figure measured through it, in a fixed order, on fresh
 * connections. The order is the "mixed workload" whose resident memory is read at the end.
 * @module
 */
import { pathToFileURL } from "node:url";
import process from "node:process";
import { measureEcho } from "./echo_bench.ts";
import type { EchoConfig } from "./echo_bench.ts";
import {
  emptyExtra,
  measureConnects,
  measurePipelinedStarts,
  measurePty,
  measureWrites,
} from "./extra_bench.ts";
import type { ExtraResult } from "./extra_bench.ts";
import { measureFs } from "./fs_bench.ts";
import type { FsResult } from "./fs_bench.ts";
import { expectError, expectResult, sequentialMicros } from "./latency_bench.ts";
import { onOneCpu } from "./one_cpu.ts";
import { measureRoundTrip, measureSleeps, measureStdout } from "./server_bench.ts";
import type { StdoutRun } from "./server_bench.ts";
import type { ServerProcess } from "./server_process.ts";
import { errorText, summarize, withTimeout } from "./stats.ts";
import type { Summary } from "./stats.ts";
import { withClient } from "./ws_client.ts";
import { measureBinary } from "./binary_bench.ts";
import type { BinaryResult } from "./binary_bench.ts";

/** Sizes and run counts a server column uses. */
export interface ServerConfig {
  spawnWarmup: number;
  /** Sequential `/bin/true` round trips: their median, and the memory they leave behind. */
  roundTrips: number;
  stdoutBytes: number;
  stdoutRuns: number;
  sleeps: number;
  sleepRuns: number;
  metadataCalls: number;
  fileBytes: number;
  latencyWarmup: number;
  latencyCalls: number;
  echo: EchoConfig;
  echoRuns: number;
  /** The extra figures, measured only with `--reference`. */
  connects: number;
  pipelinedStarts: number;
  ptyBytes: number;
  writes: number;
}

/** The figures of one server; null figures failed, with the reason in `errors`. */
export interface ServerResult {
  ok: boolean;
  /** Why the server could not be benched at all (did not start, etc.). */
  error: string | null;
  /** Resident memory right after start-up and one handshake. */
  idleRssBytes: number | null;
  /** Sequential `fs/getMetadata` of a directory, median µs. */
  metadataMicros: number | null;
  /** Sequential error answers (`process/read` of an unknown id, -32600), median µs. */
  errorMicros: number | null;
  /** `metadataMicros` and `errorMicros` with the bench and the server on one CPU (`one_cpu.ts`). */
  oneCpuMetadataMicros: number | null;
  oneCpuErrorMicros: number | null;
  roundTripMs: Summary | null;
  /** Resident memory before and after the `roundTrips` sequential round trips. */
  roundTripsRss: { before: number; after: number } | null;
  /** The same round trip measured again after the stdout runs (a server that has streamed). */
  roundTripAfterStdoutMs: Summary | null;
  /** Server resident memory right after the stdout runs. */
  serverRssAfterStdoutBytes: number | null;
  /** Median of `stdoutRuns`. */
  stdoutMBps: number | null;
  stdoutRuns: StdoutRun[];
  /** Median of `sleepRuns`. */
  sleeps16Ms: number | null;
  sleeps16RunsMs: number[];
  /** Median of `echoRuns`. */
  echoMs: number | null;
  echoRunsMs: number[];
  fs: FsResult | null;
  /** The figures measured only with `--reference`; null without it. */
  extra: ExtraResult | null;
  /** Resident memory right after the echo runs, while their output is kept for a resume. */
  rssAfterEchoBytes: number | null;
  /**
   * Resident memory after every figure above (the mixed workload), read once the echo's
   * detached sessions have expired on this server (`Target.retentionMs`).
   */
  rssAfterMixedBytes: number | null;
  /** Stdout and readFile in binary frames, measured after the mixed workload; null on the reference. */
  binary: BinaryResult | null;
  errors: Record<string, string>;
}

/** What one server column needs: how to start it and how it wants `cwd`. */
export interface Target {
  name: string;
  start: () => Promise<ServerProcess>;
  /** The reference accepts only file:// URIs; ours takes native paths as well. */
  uriCwd: boolean;
  /** Measure the extra figures (with `--reference`). */
  extra: boolean;
  /**
   * How long after its client leaves the server keeps a session's output for a resume. The
   * mixed workload's memory is read once that has passed since the echo, so that every server is
   * read with its echo output given up, whatever its later figures took.
   */
  retentionMs: number;
}

/** A result with nothing measured, carrying `error`. */
export function notMeasured(error = "not measured (--runtime)"): ServerResult {
  return {
    ok: false,
    error,
    idleRssBytes: null,
    metadataMicros: null,
    errorMicros: null,
    oneCpuMetadataMicros: null,
    oneCpuErrorMicros: null,
    roundTripMs: null,
    roundTripsRss: null,
    roundTripAfterStdoutMs: null,
    serverRssAfterStdoutBytes: null,
    stdoutMBps: null,
    stdoutRuns: [],
    sleeps16Ms: null,
    sleeps16RunsMs: [],
    echoMs: null,
    echoRunsMs: [],
    fs: null,
    extra: null,
    rssAfterEchoBytes: null,
    rssAfterMixedBytes: null,
    binary: null,
    errors: {},
  };
}

function progress(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
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

/** Past a retention window: the expiry's collection is throttled to one a second on ours. */
const EXPIRY_MARGIN_MS = 2_000;

/**
 * Lets the server settle (close the last connection, collect) before its memory is read. A second:
 * ours collects once a burst has been quiet for 100 ms, and Bun hands freed pages back to the
 * system later still (200 ms after three echo runs a Bun server read 147, 169 or 233 MiB).
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1_000));
}

/** Measures every figure through the server `target` starts; `file` is `fileBytes` long. */
export async function benchServer(
  target: Target,
  config: ServerConfig,
  benchDir: string,
  file: string,
): Promise<ServerResult> {
  const runtime = target.name;
  const dirUri = pathToFileURL(benchDir).href;
  const dir = target.uriCwd ? dirUri : benchDir;
  const result = notMeasured();
  result.error = null;
  progress(`server under ${runtime}: starting`);
  let server;
  try {
    server = await target.start();
  } catch (error) {
    result.error = `server did not start: ${errorText(error)}`;
    return result;
  }
  const errors = result.errors;
  try {
    const url = server.url;
    result.ok = true;
    await withClient(url, async () => {});
    await settle();
    result.idleRssBytes = await server.rssBytes();

    progress(`server under ${runtime}: sequential round trips`);
    const latency = { warmup: config.latencyWarmup, calls: config.latencyCalls };
    const metadataCall = {
      method: "fs/getMetadata",
      params: { path: dirUri, sandbox: null },
      check: expectResult,
    };
    const errorCall = {
      method: "process/read",
      params: { processId: "no-such-process" },
      check: expectError,
    };
    const sequential = (name: string, call: Parameters<typeof sequentialMicros>[1]) =>
      figure(
        errors,
        name,
        60_000,
        () => withClient(url, (client) => sequentialMicros(client, call, latency)),
      );
    result.metadataMicros = await sequential("metadataMicros", metadataCall);
    result.errorMicros = await sequential("errorMicros", errorCall);
    progress(`server under ${runtime}: sequential round trips on one CPU`);
    result.oneCpuMetadataMicros = await onOneCpu(
      server.pid,
      () => sequential("oneCpuMetadataMicros", metadataCall),
    );
    result.oneCpuErrorMicros = await onOneCpu(server.pid, () => sequential("oneCpuErrorMicros", errorCall));

    progress(`server under ${runtime}: /bin/true round trips`);
    result.roundTripMs = await figure(
      errors,
      "roundTripMs",
      180_000,
      () =>
        withClient(url, async (client) => {
          let before: number | null = null;
          const summary = await measureRoundTrip(
            client,
            dir,
            config.spawnWarmup,
            config.roundTrips,
            async () => {
              before = await server.rssBytes();
            },
          );
          const after = await server.rssBytes();
          if (before !== null && after !== null) result.roundTripsRss = { before, after };
          return summary;
        }),
    );

    progress(`server under ${runtime}: stdout`);
    await figure(errors, "stdoutMBps", 120_000, () =>
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
    await settle();
    result.serverRssAfterStdoutBytes = await server.rssBytes();

    progress(`server under ${runtime}: round trips after stdout`);
    result.roundTripAfterStdoutMs = await figure(
      errors,
      "roundTripAfterStdoutMs",
      120_000,
      () =>
        withClient(
          url,
          (client) => measureRoundTrip(client, dir, 5, Math.max(20, Math.round(config.roundTrips / 10))),
        ),
    );

    progress(`server under ${runtime}: concurrent sleeps`);
    await figure(errors, "sleeps16Ms", 30_000, () =>
      withClient(url, async (client) => {
        for (let i = 0; i < config.sleepRuns; i++) {
          result.sleeps16RunsMs.push(await measureSleeps(client, dir, `sleep-${i}`, config.sleeps));
        }
      }));
    if (result.sleeps16RunsMs.length > 0) result.sleeps16Ms = summarize(result.sleeps16RunsMs).median;

    progress(`server under ${runtime}: echo`);
    await figure(errors, "echoMs", 120_000, async () => {
      for (let i = 0; i < config.echoRuns; i++) {
        result.echoRunsMs.push(await measureEcho(url, dir, `echo-${i}`, config.echo));
      }
    });
    if (result.echoRunsMs.length > 0) result.echoMs = summarize(result.echoRunsMs).median;
    await settle();
    result.rssAfterEchoBytes = await server.rssBytes();
    const echoLeft = performance.now();

    if (target.extra) result.extra = await extraFigures(url, dir, config, errors);

    progress(`server under ${runtime}: fs`);
    result.fs = await figure(errors, "fs", 120_000, () =>
      measureFs(url, {
        dir: benchDir,
        file,
        fileBytes: config.fileBytes,
        metadataCalls: config.metadataCalls,
        uriSandboxPaths: target.uriCwd,
      }));
    await settle();
    const expired = echoLeft + target.retentionMs + EXPIRY_MARGIN_MS - performance.now();
    if (expired > 0) {
      progress(`server under ${runtime}: ${(expired / 1000).toFixed(0)} s until the echo's sessions expire`);
      await new Promise((resolve) => setTimeout(resolve, expired));
    }
    result.rssAfterMixedBytes = await server.rssBytes();

    // After the mixed workload's reading, so that the figures above stay comparable across runs.
    progress(`server under ${runtime}: binary frames`);
    result.binary = await figure(errors, "binary", 180_000, () =>
      measureBinary(url, {
        dir,
        fileUri: pathToFileURL(file).href,
        fileBytes: config.fileBytes,
        stdoutBytes: config.stdoutBytes,
        stdoutRuns: config.stdoutRuns,
      }));
    if (Object.keys(errors).length > 0) {
      const log = server.stderr().trim();
      if (log !== "") errors["serverLog"] = log.split("\n").slice(-5).join(" | ");
    }
  } finally {
    await server.stop();
  }
  return result;
}

async function extraFigures(
  url: string,
  dir: string,
  config: ServerConfig,
  errors: Record<string, string>,
): Promise<ExtraResult> {
  const extra = emptyExtra(config.pipelinedStarts, config.writes, config.connects);
  progress("connects");
  extra.connectMs = await figure(errors, "connectMs", 60_000, () => measureConnects(url, config.connects));
  progress("pipelined starts");
  extra.pipelinedStartsMs = await figure(
    errors,
    "pipelinedStartsMs",
    60_000,
    () =>
      withClient(url, (client) => measurePipelinedStarts(client, dir, "pipelined", config.pipelinedStarts)),
  );
  progress("pty");
  const pty = await figure(
    errors,
    "ptyMBps",
    120_000,
    () => withClient(url, (client) => measurePty(client, dir, "pty", config.ptyBytes)),
  );
  extra.ptyMBps = pty?.mbps ?? null;
  extra.ptyBytes = pty?.bytes ?? null;
  progress("small writes");
  const writes = await figure(
    errors,
    "writesPerSecond",
    60_000,
    () => withClient(url, (client) => measureWrites(client, dir, "writes", config.writes)),
  );
  extra.writesPerSecond = writes?.perSecond ?? null;
  extra.writesDone = writes?.done ?? null;
  return extra;
}
