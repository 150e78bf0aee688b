/**
 * Where the "RSS after the mixed workload" goes: runs chosen parts of that workload
 * (`server_run.ts`) against one fresh server and prints its memory after each, split into
 * anonymous and file-backed pages (`/proc/PID/smaps_rollup`), then again once the echo's sessions
 * have expired, with the mappings that grew most since the idle reading (`/proc/PID/smaps`).
 *
 * @example
 * ```sh
 * bun bench/rss_probe.ts bun seq,rt,stdout,sleeps,echo,extra,fs   # the whole workload, in its order
 * bun bench/rss_probe.ts bun fs                                # one part alone
 * RSS_PROBE_HEAP=1 bun bench/rss_probe.ts bun fs    # and the JS heap (bun_heap_server.ts)
 * RSS_PROBE_ENV='["MIMALLOC_PURGE_DELAY=0"]' bun bench/rss_probe.ts bun fs   # with environment
 * ```
 *
 * With `RSS_PROBE_HEAP`, also after every part (`RSS_PROBE_HEAP_EACH`, which collects there) and at
 * the bench's reading (`RSS_PROBE_HEAP_AT_BENCH`); `RSS_PROBE_STDERR=FILE` keeps the server's
 * stderr (mimalloc's statistics with `RSS_PROBE_ENV='["HEAP_REPORT_MIMALLOC=1"]'`).
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { measureEcho } from "./echo_bench.ts";
import { measureConnects, measurePipelinedStarts, measurePty, measureWrites } from "./extra_bench.ts";
import { measureFs, sandboxFor } from "./fs_bench.ts";
import { expectError, expectResult, sequentialMicros } from "./latency_bench.ts";
import { measureRoundTrip, measureSleeps, measureStdout } from "./server_bench.ts";
import { ROOT, runtimeCommand, startCommand, startServer } from "./server_process.ts";
import type { RuntimeName } from "./server_process.ts";
import { withClient } from "./ws_client.ts";

const MIB = 1024 * 1024;
const KIB = 1024;
/** The default `--session-ttl` and the bench's margin past it (`server_run.ts`). */
const EXPIRY_MS = 32_000;

type Phase =
  | "seq"
  | "rt"
  | "stdout"
  | "sleeps"
  | "echo"
  | "extra"
  | "fs"
  | "read"
  | "sandboxread"
  | "sandboxmeta"
  | "connects"
  | "pipelined"
  | "pty"
  | "writes";

interface Memory {
  rss: number;
  anonymous: number;
  file: number;
}

async function memoryOf(pid: number): Promise<Memory> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text)?.[1] ?? 0) * KIB;
  const rss = field("Rss");
  const anonymous = field("Anonymous");
  return { rss, anonymous, file: rss - anonymous };
}

/** Resident kB of each mapping, keyed by its address range and name. */
async function mappingsOf(pid: number): Promise<Map<string, number>> {
  const text = await readFile(`/proc/${pid}/smaps`, "utf8");
  const mappings = new Map<string, number>();
  let key = "";
  for (const line of text.split("\n")) {
    const header = /^([0-9a-f]+-[0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) {
      key = `${header[1]} ${header[2] === "" ? "[anon]" : header[2]}`;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss !== null) mappings.set(key, Number(rss[1]));
  }
  return mappings;
}

function show(label: string, memory: Memory): void {
  const mib = (bytes: number) => (bytes / MIB).toFixed(1).padStart(6);
  console.log(
    `${label.padEnd(28)} rss ${mib(memory.rss)}  anon ${mib(memory.anonymous)}  file ${mib(memory.file)}`,
  );
}

function settle(ms = 1_000): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function runPhase(phase: Phase, url: string, dir: string, file: string): Promise<void> {
  switch (phase) {
    case "seq": {
      // The bench's sequential figures, each measured twice (as placed, and on one CPU).
      const latency = { warmup: 200, calls: 2000 };
      const metadata = {
        method: "fs/getMetadata",
        params: { path: pathToFileURL(dir).href, sandbox: null },
        check: expectResult,
      };
      const error = { method: "process/read", params: { processId: "no-such-process" }, check: expectError };
      for (const call of [metadata, error, metadata, error]) {
        await withClient(url, (client) => sequentialMicros(client, call, latency));
      }
      return;
    }
    case "rt":
      await withClient(url, (client) => measureRoundTrip(client, dir, 20, 1000));
      return;
    case "stdout":
      await withClient(url, async (client) => {
        for (let i = 0; i < 3; i++) await measureStdout(client, `stdout-${i}`, dir, 256 * MIB);
      });
      return;
    case "sleeps":
      await withClient(url, async (client) => {
        for (let i = 0; i < 3; i++) await measureSleeps(client, dir, `sleep-${i}`, 16);
      });
      return;
    case "echo":
      for (let i = 0; i < 3; i++) {
        await measureEcho(url, dir, `echo-${i}`, {
          connections: 8,
          processes: 8,
          bytes: 256 * KIB,
          writeBytes: 64 * KIB,
        });
      }
      return;
    case "extra":
      await measureConnects(url, 40);
      await withClient(url, (client) => measurePipelinedStarts(client, dir, "pipelined", 100));
      await withClient(url, (client) => measurePty(client, dir, "pty", 64 * MIB));
      await withClient(url, (client) => measureWrites(client, dir, "writes", 10_000));
      return;
    case "read":
      await withClient(url, (client) => client.call("fs/readFile", { path: pathToFileURL(file).href }));
      return;
    case "sandboxread":
      await withClient(
        url,
        (client) => client.call("fs/readFile", { path: pathToFileURL(file).href, sandbox: sandboxFor(dir) }),
      );
      return;
    case "sandboxmeta":
      await withClient(
        url,
        (client) =>
          client.call("fs/getMetadata", { path: pathToFileURL(dir).href, sandbox: sandboxFor(dir) }),
      );
      return;
    case "connects":
      await measureConnects(url, 40);
      return;
    case "pipelined":
      await withClient(url, (client) => measurePipelinedStarts(client, dir, "pipelined", 100));
      return;
    case "pty":
      await withClient(url, (client) => measurePty(client, dir, "pty", 64 * MIB));
      return;
    case "writes":
      await withClient(url, (client) => measureWrites(client, dir, "writes", 10_000));
      return;
    case "fs":
      await measureFs(url, { dir, file, fileBytes: 64 * MIB, metadataCalls: 1000 });
      return;
  }
}

async function main(): Promise<void> {
  const runtime = (process.argv[2] ?? "bun") as RuntimeName;
  const phases = (process.argv[3] ?? "seq,rt,stdout,sleeps,echo,extra,fs").split(",") as Phase[];
  const dir = await mkdtemp(join(tmpdir(), "rss-probe-"));
  const file = join(dir, "file.bin");
  await writeFile(file, randomBytes(64 * MIB));
  const heap = process.env["RSS_PROBE_HEAP"] !== undefined && runtime === "bun";
  const environment = JSON.parse(process.env["RSS_PROBE_ENV"] ?? "[]") as string[];
  const server = !heap && environment.length === 0 ? await startServer(runtime) : await startCommand([
    "env",
    ...environment,
    ...runtimeCommand(runtime, join(ROOT, heap ? "bench/bun_heap_server.ts" : "mod.ts")),
    "--listen",
    "ws://127.0.0.1:0",
    "--quiet",
  ]);
  const debug = async (label: string) => {
    if (!heap) return;
    process.kill(server.pid, "SIGUSR2");
    await settle(500);
    for (const line of server.stderr().split("\n")) {
      if (line.startsWith("HEAP") && !seen.has(line)) {
        seen.add(line);
        console.log(`  ${label}: ${line}`);
      }
    }
  };
  const seen = new Set<string>();
  try {
    const pid = server.pid;
    await withClient(server.url, async () => {});
    await settle();
    show("idle", await memoryOf(pid));
    await debug("idle");
    const idleMappings = await mappingsOf(pid);
    let echoLeft = performance.now();
    for (const phase of phases) {
      await runPhase(phase, server.url, dir, file);
      if (phase === "echo") echoLeft = performance.now();
      await settle();
      show(`after ${phase}`, await memoryOf(pid));
      if (process.env["RSS_PROBE_HEAP_EACH"] !== undefined) await debug(phase);
    }
    const lastLeft = performance.now();
    // The bench reads its figure once the echo's sessions have expired; later parts' may not have.
    const benchWait = echoLeft + EXPIRY_MS - performance.now();
    if (benchWait > 0) await settle(benchWait);
    show("the bench's reading", await memoryOf(pid));
    if (process.env["RSS_PROBE_HEAP_AT_BENCH"] !== undefined) await debug("bench");
    const allWait = lastLeft + EXPIRY_MS - performance.now();
    if (allWait > 0) await settle(allWait);
    show("every session expired", await memoryOf(pid));
    await settle(10_000);
    show("10 s later", await memoryOf(pid));
    await debug("end");
    await settle();
    show("after a forced collection", await memoryOf(pid));
    if (process.env["RSS_PROBE_STDERR"] !== undefined) {
      await writeFile(process.env["RSS_PROBE_STDERR"], server.stderr());
    }
    const grown = [...(await mappingsOf(pid))]
      .map(([key, kb]) => [key, kb - (idleMappings.get(key) ?? 0)] as const)
      .filter(([, kb]) => Math.abs(kb) >= 1024)
      .sort((a, b) => b[1] - a[1]);
    for (const [key, kb] of grown) console.log(`  ${(kb / 1024).toFixed(1).padStart(7)} MiB  ${key}`);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
