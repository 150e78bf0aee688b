/**
 * `fs/copy` of large files, as interleaved rounds: each round starts a fresh server of every
 * checkout given (a directory with a `mod.ts`; `.` by default) under Bun and under Deno, and with
 * `--reference PATH` the Codex reference, in turn (the order alternates), and copies three files
 * with each: a 1 GiB sparse file without data (`truncate -s 1G`), a 1 GiB file with five runs of 4
 * MiB of data, 256 MiB of random bytes, and with `--files` others: 1 GiB of random bytes
 * (`dense1g`), trees of 2,000 and 20,000 files of 0.1–3 KiB, 50 to a directory (`tree2k`,
 * `tree20k`), and a chain of 500 directories with a file in each (`deep`). While a copy runs, a
 * second client sends sequential `fs/getMetadata` requests. Prints one line per copy (its time, the
 * server's CPU time, the blocks of the copy, the other client's latencies in µs), then the median
 * and spread over the rounds. With `--sandboxed` each copy names a sandbox that may write the
 * probe's directory, so the sandbox worker copies.
 *
 * @example
 * ```sh
 * bun bench/copy_probe.ts --rounds 5 --reference /tmp/codexref /tmp/base .
 * bun bench/copy_probe.ts --rounds 5 --files dense,dense1g,tree2k,deep /tmp/base .
 * bun bench/copy_probe.ts --rounds 5 --sandboxed --files dense,tree2k /tmp/base .
 * ```
 * @module
 */
import { mkdir, mkdtemp, open, rm, stat, writeFile as writeBytes } from "node:fs/promises";
import { randomFillSync } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import {
  resolveReference,
  runtimeCommand,
  RUNTIMES,
  startCommand,
  startReference,
} from "./server_process.ts";
import type { ServerProcess } from "./server_process.ts";
import { summarize } from "./stats.ts";
import { BenchClient } from "./ws_client.ts";
import { managedSandbox } from "../test/helpers/sandbox_policy.ts";

const MIB = 1 << 20;

function option(name: string): string | null {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? null : (process.argv[index + 1] ?? null);
}

const rounds = Number(option("rounds") ?? "3");
/** `--sandboxed`: each copy runs in a sandbox that may write the probe's directory (the worker). */
const sandboxed = process.argv.includes("--sandboxed");
const reference = option("reference");
const given = process.argv.slice(2).filter((arg, i, all) =>
  !arg.startsWith("--") && (!all[i - 1]?.startsWith("--") || all[i - 1] === "--sandboxed")
);
const checkouts = given.length === 0 ? ["."] : given;

/** A server to copy with: a checkout under a runtime, or the reference. */
interface Target {
  readonly name: string;
  start(): Promise<ServerProcess>;
}

const targets: Target[] = checkouts.flatMap((checkout) =>
  RUNTIMES.map((runtime) => ({
    name: `${checkout} ${runtime}`,
    start: () =>
      startCommand(
        runtimeCommand(runtime, join(resolve(checkout), "mod.ts"), [
          "--listen",
          "ws://127.0.0.1:0",
          "--quiet",
        ]),
      ),
  }))
);
if (reference !== null) {
  const binary = await resolveReference(reference);
  targets.push({ name: "reference", start: () => startReference(binary) });
}

/** Writes `length` random bytes at each offset of `file`, then sets its size. */
async function writeFile(
  path: string,
  size: number,
  runs: ReadonlyArray<readonly [number, number]>,
): Promise<void> {
  const file = await open(path, "w");
  try {
    const chunk = new Uint8Array(MIB);
    for (const [offset, length] of runs) {
      for (let at = 0; at < length; at += MIB) {
        randomFillSync(chunk);
        await file.write(chunk, 0, Math.min(MIB, length - at), offset + at);
      }
    }
    await file.truncate(size);
  } finally {
    await file.close();
  }
}

const dir = await mkdtemp(join(tmpdir(), "exec-server-copy-probe-"));
/** What a copy copies: a file of `size` bytes with data at `runs`, or a tree that `make` writes. */
type Source =
  | { readonly size: number; readonly runs: ReadonlyArray<readonly [number, number]> }
  | { readonly make: (path: string) => Promise<void> };

/** `files` files of 0.1–3 KiB, `perDirectory` to a directory. */
async function writeTree(path: string, files: number, perDirectory: number): Promise<void> {
  for (let i = 0; i < files; i++) {
    const sub = join(path, `d${Math.floor(i / perDirectory)}`);
    if (i % perDirectory === 0) await mkdir(sub, { recursive: true });
    const bytes = new Uint8Array(100 + (i * 7919) % 2900);
    randomFillSync(bytes);
    await writeBytes(join(sub, `f${i}.txt`), bytes);
  }
}

/** A chain of `depth` directories with one small file in each. */
async function writeChain(path: string, depth: number): Promise<void> {
  let at = path;
  for (let i = 0; i < depth; i++) {
    at = join(at, "d");
    await mkdir(at, { recursive: true });
    await writeBytes(join(at, "f.txt"), `level ${i}\n`);
  }
}

const SOURCES: Record<string, Source> = {
  sparse: { size: 1024 * MIB, runs: [] },
  extents: { size: 1024 * MIB, runs: [0, 256, 512, 768, 1020].map((at) => [at * MIB, 4 * MIB] as const) },
  dense: { size: 256 * MIB, runs: [[0, 256 * MIB] as const] },
  dense1g: { size: 1024 * MIB, runs: [[0, 1024 * MIB] as const] },
  tree2k: { make: (path) => writeTree(path, 2000, 50) },
  tree20k: { make: (path) => writeTree(path, 20000, 50) },
  deep: { make: (path) => writeChain(path, 500) },
};
const FILES = Object.fromEntries(
  (option("files") ?? "sparse,extents,dense").split(",").map((name) => {
    const source = SOURCES[name];
    if (source === undefined) throw new Error(`no file ${name}: ${Object.keys(SOURCES).join(", ")}`);
    return [name, source];
  }),
);

/** One copy's figures. */
interface Copy {
  readonly ms: number;
  readonly cpuMs: number;
  readonly blocks: number;
  /** The other client's round trips while the copy ran, µs. */
  readonly medianUs: number;
  readonly maxUs: number;
}

/** Copies `name` with `client` while `other` asks for metadata; removes the copy. */
async function copyOnce(
  server: ServerProcess,
  client: BenchClient,
  other: BenchClient,
  name: string,
): Promise<Copy> {
  const destination = join(dir, `${name}.copy`);
  const latencies: number[] = [];
  let copying = true;
  const asking = (async () => {
    while (copying) {
      const start = performance.now();
      await other.call("fs/getMetadata", { path: `file://${dir}`, sandbox: null });
      latencies.push((performance.now() - start) * 1000);
    }
  })();
  const cpuBefore = await server.cpuMs() ?? 0;
  const start = performance.now();
  try {
    await client.call("fs/copy", {
      sourcePath: `file://${join(dir, name)}`,
      destinationPath: `file://${destination}`,
      recursive: true,
      sandbox: sandboxed ? managedSandbox({ write: [dir] }) : null,
    });
  } finally {
    copying = false;
  }
  const ms = performance.now() - start;
  await asking;
  const cpuMs = (await server.cpuMs() ?? 0) - cpuBefore;
  const { blocks } = await stat(destination);
  await rm(destination, { recursive: true });
  const summary = summarize(latencies);
  return { ms, cpuMs, blocks, medianUs: summary.median, maxUs: summary.max };
}

try {
  for (const [name, file] of Object.entries(FILES)) {
    if ("make" in file) await file.make(join(dir, name));
    else await writeFile(join(dir, name), file.size, file.runs);
  }
  const results = new Map<string, Copy[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const server = await target.start();
      try {
        const client = await BenchClient.open(server.url);
        const other = await BenchClient.open(server.url);
        for (const name of Object.keys(FILES)) {
          const copy = await copyOnce(server, client, other, name);
          const key = `${target.name} ${name}`;
          results.set(key, [...results.get(key) ?? [], copy]);
          const load = (await Bun.file("/proc/loadavg").text()).split(" ")[0];
          console.log(JSON.stringify({ round, target: target.name, file: name, load, ...copy }));
        }
        client.close();
        other.close();
      } finally {
        await server.stop();
      }
    }
  }
  const spread = (values: number[]) => {
    const { median, min, max } = summarize(values);
    return `${Math.round(median)} (${Math.round(min)}–${Math.round(max)})`;
  };
  console.log(
    "\ntarget file: copy ms, server CPU ms, other client's median / max µs, median (min–max); blocks",
  );
  for (const [key, copies] of results) {
    console.log(
      `${key}: ${spread(copies.map((c) => c.ms))}, CPU ${spread(copies.map((c) => c.cpuMs))}, ` +
        `${spread(copies.map((c) => c.medianUs))} / ${spread(copies.map((c) => c.maxUs))}; ` +
        `blocks ${copies.map((c) => c.blocks).join(" ")}`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
