/**
 * The raw runtime floor, measured with the runtime's native APIs (Bun.spawn / Deno.Command) and
 * printed as one JSON line. Run under each runtime by bench/main.ts:
 * `bun bench/floor.ts CONFIG_JSON` or `deno run -A bench/floor.ts CONFIG_JSON`.
 * @module
 */
import { stat } from "node:fs/promises";
import process from "node:process";
import { echoPayload, HEAD } from "./echo_bench.ts";
import type { EchoConfig } from "./echo_bench.ts";
import { megabytesPerSecond, summarize } from "./stats.ts";
import type { Summary } from "./stats.ts";

/** What to measure; main.ts passes it as the first argument. */
export interface FloorConfig {
  spawnWarmup: number;
  spawnRuns: number;
  pipeBytes: number;
  sleeps: number;
  statCalls: number;
  /** A file of `readFileBytes` bytes to read natively, or null to skip. */
  readFilePath: string | null;
  /** The echo figure's shape; its processes all run at once here. */
  echo: EchoConfig;
}

/** The floor figures of one runtime. */
export interface FloorResult {
  runtime: string;
  version: string;
  spawnTrueMs: Summary;
  pipeBytes: number;
  pipeMBps: number;
  sleeps16Ms: number;
  statMsPerCall: number;
  readFileBytes: number | null;
  readFileMBps: number | null;
  /** `connections × processes` echoes of `bytes` through stdin and back, all at once (ms). */
  echoMs: number;
}

/** The spawn primitives the floor needs, over either runtime's native API. */
interface NativeSpawn {
  readonly runtime: string;
  readonly version: string;
  /** Spawns argv with all stdio on the null device; resolves when it is reaped. */
  run(argv: readonly string[]): Promise<void>;
  /** Spawns argv with stdout piped; resolves with the bytes read once it is reaped. */
  readStdout(argv: readonly string[]): Promise<number>;
  /** Spawns argv, writes `input` to its stdin and closes it; resolves with the bytes it wrote out. */
  echo(argv: readonly string[], input: Uint8Array): Promise<number>;
  readFile(path: string): Promise<Uint8Array>;
}

/** The part of the Deno namespace used here (bun-types does not declare Deno). */
interface DenoApi {
  version: { deno: string };
  Command: new (program: string, options: {
    args: string[];
    stdin: "null" | "piped";
    stdout: "null" | "piped";
    stderr: "null";
  }) => {
    spawn(): {
      stdin: WritableStream<Uint8Array>;
      stdout: ReadableStream<Uint8Array>;
      status: Promise<{ code: number }>;
    };
  };
  readFile(path: string): Promise<Uint8Array>;
}

function bunSpawn(): NativeSpawn {
  return {
    runtime: "bun",
    version: Bun.version,
    async run(argv) {
      await Bun.spawn([...argv], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exited;
    },
    async readStdout(argv) {
      const child = Bun.spawn([...argv], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
      const bytes = await countStream(child.stdout);
      await child.exited;
      return bytes;
    },
    async echo(argv, input) {
      const child = Bun.spawn([...argv], { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
      const bytes = countStream(child.stdout);
      child.stdin.write(input);
      await child.stdin.end();
      await child.exited;
      return await bytes;
    },
    readFile: (path) => Bun.file(path).bytes(),
  };
}

function denoSpawn(deno: DenoApi): NativeSpawn {
  const command = (argv: readonly string[], stdout: "null" | "piped", stdin: "null" | "piped" = "null") =>
    new deno.Command(argv[0] ?? "", { args: argv.slice(1), stdin, stdout, stderr: "null" }).spawn();
  return {
    runtime: "deno",
    version: deno.version.deno,
    async run(argv) {
      await command(argv, "null").status;
    },
    async readStdout(argv) {
      const child = command(argv, "piped");
      const bytes = await countStream(child.stdout);
      await child.status;
      return bytes;
    },
    async echo(argv, input) {
      const child = command(argv, "piped", "piped");
      const bytes = countStream(child.stdout);
      const writer = child.stdin.getWriter();
      await writer.write(input);
      await writer.close();
      await child.status;
      return await bytes;
    },
    readFile: (path) => deno.readFile(path),
  };
}

async function countStream(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
  }
}

/** Measures every floor figure with `native`. */
export async function measureFloor(native: NativeSpawn, config: FloorConfig): Promise<FloorResult> {
  for (let i = 0; i < config.spawnWarmup; i++) await native.run(["/bin/true"]);
  const samples: number[] = [];
  for (let i = 0; i < config.spawnRuns; i++) {
    const start = performance.now();
    await native.run(["/bin/true"]);
    samples.push(performance.now() - start);
  }

  let start = performance.now();
  const piped = await native.readStdout(["head", "-c", String(config.pipeBytes), "/dev/zero"]);
  const pipeMs = performance.now() - start;
  if (piped !== config.pipeBytes) throw new Error(`pipe read ${piped} bytes, expected ${config.pipeBytes}`);

  start = performance.now();
  await Promise.all(Array.from({ length: config.sleeps }, () => native.run(["sleep", "0.2"])));
  const sleepsMs = performance.now() - start;

  await stat(process.cwd());
  start = performance.now();
  await Promise.all(Array.from({ length: config.statCalls }, () => stat(process.cwd())));
  const statMs = performance.now() - start;

  let readFileBytes: number | null = null;
  let readFileMBps: number | null = null;
  if (config.readFilePath !== null) {
    start = performance.now();
    readFileBytes = (await native.readFile(config.readFilePath)).byteLength;
    readFileMBps = megabytesPerSecond(readFileBytes, performance.now() - start);
  }

  const { connections, processes, bytes } = config.echo;
  const input = echoPayload(bytes);
  start = performance.now();
  const echoed = await Promise.all(
    Array.from({ length: connections * processes }, () => native.echo([HEAD, "-c", String(bytes)], input)),
  );
  const echoMs = performance.now() - start;
  if (echoed.some((count) => count !== bytes)) throw new Error(`echo returned ${echoed.join(",")} bytes`);

  return {
    runtime: native.runtime,
    version: native.version,
    spawnTrueMs: summarize(samples),
    pipeBytes: piped,
    pipeMBps: megabytesPerSecond(piped, pipeMs),
    sleeps16Ms: sleepsMs,
    statMsPerCall: statMs / config.statCalls,
    readFileBytes,
    readFileMBps,
    echoMs,
  };
}

if (import.meta.main) {
  // main.ts passes a FloorConfig as JSON; a malformed one fails loudly below.
  const config = JSON.parse(process.argv[2] ?? "") as FloorConfig;
  // Deno is a global only under Deno; bun-types does not declare it.
  const deno = (globalThis as unknown as { Deno?: DenoApi }).Deno;
  const native = typeof Bun !== "undefined" ? bunSpawn() : deno !== undefined ? denoSpawn(deno) : null;
  if (native === null) throw new Error("floor.ts runs under bun or deno");
  process.stdout.write(JSON.stringify(await measureFloor(native, config)) + "\n");
}
