/**
 * The echo figure alone, as interleaved A/B pairs: each round starts a fresh server from each
 * checkout in turn (the order alternates between rounds), runs one echo to warm it and then
 * `--runs` echoes, each once the server has fallen idle, and prints every run with the CPU time of the server, of its children (the
 * `head`s and their join helper) and of this client. A checkout is a directory with a `mod.ts`
 * (another clone at the commit to compare against).
 *
 * @example
 * ```sh
 * bun bench/echo_ab.ts --runtime deno --rounds 3 /tmp/base .
 * ```
 * @module
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { measureEcho } from "./echo_bench.ts";
import type { EchoConfig } from "./echo_bench.ts";
import { runtimeCommand, startCommand } from "./server_process.ts";
import type { RuntimeName, ServerProcess } from "./server_process.ts";
import { summarize } from "./stats.ts";

const KIB = 1024;
const ECHO: EchoConfig = { connections: 8, processes: 8, bytes: 256 * KIB, writeBytes: 64 * KIB };
/** Past the server's quiet release (100 ms without a message), so that it starts between runs. */
const GAP_MS = 300;
/**
 * How long the server's CPU time must stand still before a run starts: the release that a run's
 * traffic asks for takes 200-330 ms of full collections on a Deno server on a busy 2-core VM (four
 * in a row), and started 300 ms after a run it was still under way when the next one began.
 */
const IDLE_MS = 100;
/** The longest wait for the server to fall idle; a server that stays busy is measured anyway. */
const IDLE_LIMIT_MS = 3000;

/** Waits `GAP_MS`, then until the server's CPU time stays the same for `IDLE_MS`. */
async function untilIdle(server: ServerProcess): Promise<void> {
  await Bun.sleep(GAP_MS);
  const deadline = performance.now() + IDLE_LIMIT_MS;
  let last = await server.cpuMs();
  while (performance.now() < deadline) {
    await Bun.sleep(IDLE_MS);
    const now = await server.cpuMs();
    if (now === last) return;
    last = now;
  }
}

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : (process.argv[index + 1] ?? fallback);
}

const runtime = option("runtime", "deno") as RuntimeName;
const rounds = Number(option("rounds", "3"));
const runs = Number(option("runs", "5"));
const checkouts = process.argv.slice(2).filter((arg, i, all) =>
  !arg.startsWith("--") && !all[i - 1]?.startsWith("--")
);
if (checkouts.length === 0) throw new Error("usage: echo_ab.ts [--runtime R] [--rounds N] [--runs N] DIR...");

const dir = await mkdtemp(join(tmpdir(), "echo-ab-"));
const results = new Map<string, number[]>(checkouts.map((c) => [c, []]));
const serverCpu = new Map<string, number[]>(checkouts.map((c) => [c, []]));
const clientCpu = new Map<string, number[]>(checkouts.map((c) => [c, []]));

/** This process's user + system CPU ms so far. */
function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? checkouts : [...checkouts].reverse();
    for (const checkout of order) {
      const mod = join(resolve(checkout), "mod.ts");
      const server = await startCommand(
        runtimeCommand(runtime, mod, ["--listen", "ws://127.0.0.1:0", "--quiet"]),
      );
      try {
        await measureEcho(server.url, dir, `warm-${round}`, ECHO);
        const line: string[] = [];
        for (let i = 0; i < runs; i++) {
          await untilIdle(server);
          const cpuBefore = await server.cpuMs();
          const childrenBefore = await server.childrenCpuMs();
          const clientBefore = ownCpuMs();
          const ms = await measureEcho(server.url, dir, `echo-${round}-${i}`, ECHO);
          const client = ownCpuMs() - clientBefore;
          const cpu = (await server.cpuMs() ?? 0) - (cpuBefore ?? 0);
          const children = (await server.childrenCpuMs() ?? 0) - (childrenBefore ?? 0);
          results.get(checkout)?.push(ms);
          serverCpu.get(checkout)?.push(cpu);
          clientCpu.get(checkout)?.push(client);
          line.push(`${ms.toFixed(0)} (cpu ${cpu}, children ${children}, client ${client.toFixed(0)})`);
        }
        process.stdout.write(`round ${round} ${runtime} ${checkout}: ${line.join(", ")}\n`);
      } finally {
        await server.stop();
      }
    }
  }
  for (const [checkout, samples] of results) {
    const s = summarize(samples);
    const cpu = summarize(serverCpu.get(checkout) ?? []).median;
    const client = summarize(clientCpu.get(checkout) ?? []).median;
    process.stdout.write(
      `${runtime} ${checkout}: median ${s.median.toFixed(1)} ms, min ${s.min.toFixed(0)}, max ${
        s.max.toFixed(0)
      } (${samples.length} runs); server CPU median ${cpu} ms, client CPU median ${client.toFixed(0)} ms\n`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
