/**
 * Where the time of a 64 MiB `fs/readFile` in a binary frame goes between server and client, as
 * interleaved rounds: each round starts fresh servers in turn (the order alternates) and reads the
 * file `--reads` times from each with two clients, Bun's `WebSocket` (what the bench's client uses)
 * and a reader on a bare socket (raw_ws_reader.ts). The servers are the runtime's bare WebSocket
 * server (bare_file_server.ts: read, send, nothing else) and the exec-server of each checkout given
 * (a directory with a `mod.ts`; `.` by default). Prints the median read of every run in MB/s, then
 * the median and spread over the rounds, and the floor (one in-process read of a fresh process).
 *
 * @example
 * ```sh
 * bun bench/readfile_probe.ts --runtime bun --rounds 4 /tmp/base .
 * ```
 * @module
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import process from "node:process";
import { ROOT, runtimeCommand, startCommand } from "./server_process.ts";
import type { RuntimeName } from "./server_process.ts";
import { megabytesPerSecond, summarize } from "./stats.ts";
import { openSocket } from "./ws_client.ts";

const FILE_BYTES = 64 * 1024 * 1024;

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : (process.argv[index + 1] ?? fallback);
}

const runtime = option("runtime", "bun") as RuntimeName;
const rounds = Number(option("rounds", "3"));
const reads = Number(option("reads", "5"));
const given = process.argv.slice(2).filter((arg, i, all) =>
  !arg.startsWith("--") && !all[i - 1]?.startsWith("--")
);
const checkouts = given.length === 0 ? ["."] : given;

/** A server to read from: the bare one, or a checkout's exec-server. */
interface Target {
  readonly name: string;
  readonly argv: (file: string) => string[];
  /** Whether it speaks JSON-RPC (the exec-server) or answers any text with the file (bare). */
  readonly rpc: boolean;
}

const targets: Target[] = [
  {
    name: "bare",
    argv: (file) => runtimeCommand(runtime, join(ROOT, "bench", "bare_file_server.ts"), [file]),
    rpc: false,
  },
  ...checkouts.map((checkout) => ({
    name: checkout,
    argv: () =>
      runtimeCommand(runtime, join(resolve(checkout), "mod.ts"), ["--listen", "ws://127.0.0.1:0", "--quiet"]),
    rpc: true,
  })),
];

/** The bytes of one read's request, numbered from 10. */
function request(rpc: boolean, id: number, fileUri: string): string {
  return rpc ? JSON.stringify({ id, method: "fs/readFile", params: { path: fileUri } }) : "read";
}

const INITIALIZE = JSON.stringify({
  id: 1,
  method: "initialize",
  params: { clientName: "probe", binaryFrames: true },
});
const INITIALIZED = '{"method":"initialized","params":{}}';

/** `reads` reads through Bun's WebSocket; ms each. */
async function readWithWebSocket(url: string, rpc: boolean, fileUri: string): Promise<number[]> {
  const ws = openSocket(url);
  ws.binaryType = "arraybuffer";
  const messages: unknown[] = [];
  let wake: (() => void) | null = null;
  ws.addEventListener("message", (event) => {
    messages.push(event.data);
    wake?.();
  });
  const next = async (): Promise<unknown> => {
    while (messages.length === 0) await new Promise<void>((r) => (wake = r));
    return messages.shift();
  };
  await new Promise((r) => ws.addEventListener("open", r, { once: true }));
  if (rpc) {
    ws.send(INITIALIZE);
    await next();
    ws.send(INITIALIZED);
  }
  const times: number[] = [];
  for (let i = 0; i < reads; i++) {
    const start = performance.now();
    ws.send(request(rpc, 10 + i, fileUri));
    const data = await next();
    times.push(performance.now() - start);
    if (!(data instanceof ArrayBuffer) || data.byteLength < FILE_BYTES) {
      throw new Error("no whole file in a binary message");
    }
  }
  ws.close();
  return times;
}

/** `reads` reads through the bare-socket reader, a Deno process (raw_ws_reader.ts); ms each. */
async function readWithRawSocket(url: string, rpc: boolean, fileUri: string): Promise<number[]> {
  const argv = runtimeCommand("deno", join(ROOT, "bench", "raw_ws_reader.ts"), [
    url,
    rpc ? "rpc" : "bare",
    String(reads),
    fileUri,
  ]);
  const child = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const output = await new Response(child.stdout).text();
  await child.exited;
  clearTimeout(timer);
  if (child.exitCode !== 0) {
    throw new Error(`raw_ws_reader.ts exited with ${child.exitCode ?? child.signalCode}`);
  }
  // raw_ws_reader.ts prints one JSON array of numbers.
  return JSON.parse(output) as number[];
}

const CLIENTS = { websocket: readWithWebSocket, raw: readWithRawSocket } as const;

/** One in-process read of the file by a fresh runtime process, as bench/floor.ts measures it. */
async function floorMBps(file: string): Promise<number> {
  const read = runtime === "bun" ? "Bun.file(f).bytes()" : "Deno.readFile(f)";
  const script = `const f=${JSON.stringify(file)};const t=performance.now();await ${read};` +
    "console.log(performance.now()-t)";
  const bin = join(ROOT, "node_modules", ".bin", runtime);
  const child = Bun.spawn(runtime === "bun" ? [bin, "-e", script] : [bin, "eval", script], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const ms = Number((await new Response(child.stdout).text()).trim());
  await child.exited;
  return megabytesPerSecond(FILE_BYTES, ms);
}

const dir = await mkdtemp(join(tmpdir(), "readfile-probe-"));
const file = join(dir, "64MiB.bin");
const fileUri = pathToFileURL(file).href;
const results = new Map<string, number[]>();
const floors: number[] = [];
try {
  const bytes = new Uint8Array(FILE_BYTES);
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i & 0xff;
  await writeFile(file, bytes);
  for (let round = 0; round < rounds; round++) {
    floors.push(await floorMBps(file));
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    const clients = round % 2 === 0 ? (["websocket", "raw"] as const) : (["raw", "websocket"] as const);
    for (const target of order) {
      for (const client of clients) {
        const server = await startCommand(target.argv(file));
        try {
          const times = await CLIENTS[client](server.url, target.rpc, fileUri);
          const mbps = megabytesPerSecond(FILE_BYTES, summarize(times).median);
          const key = `${target.name} / ${client}`;
          results.set(key, [...(results.get(key) ?? []), mbps]);
          console.log(
            `round ${round + 1} ${key}: ${mbps.toFixed(0)} MB/s (ms ${
              times.map((t) => t.toFixed(0)).join(" ")
            })`,
          );
        } finally {
          await server.stop();
        }
      }
    }
  }
  const floor = summarize(floors);
  console.log(`\n${runtime}, medians over ${rounds} rounds of ${reads} reads (MB/s, min–max)`);
  console.log(
    `floor (in-process read): ${floor.median.toFixed(0)} (${floor.min.toFixed(0)}–${floor.max.toFixed(0)})`,
  );
  for (const [key, values] of results) {
    const s = summarize(values);
    console.log(
      `${key}: ${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)}), ${
        (s.median / floor.median).toFixed(2)
      }× the floor`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
