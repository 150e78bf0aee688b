/**
 * The sandboxed fs paths alone, as interleaved A/B pairs of checkouts: each round starts a fresh
 * server from each checkout in turn (the order alternates between rounds) and measures the first
 * sandboxed call of fresh sessions (each starts its policy's worker, the server at rest before
 * it), then, on one session, sequential sandboxed `fs/getMetadata`s and sequential sandboxed
 * `fs/open` + `fs/readBlock` + `fs/close` rounds. A checkout is a directory with a `mod.ts`
 * (another clone at the commit to compare against).
 *
 * @example
 * ```sh
 * bun bench/sandboxed_fs_ab.ts --runtime bun --rounds 6 /tmp/base .
 * ```
 * @module
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { runtimeCommand, startCommand } from "./server_process.ts";
import type { RuntimeName } from "./server_process.ts";
import { summarize } from "./stats.ts";
import { BenchClient } from "./ws_client.ts";
import { managedSandbox } from "../test/helpers/sandbox_policy.ts";

/** Fresh sessions whose first sandboxed call is measured, per server. */
const FIRST_CALLS = 4;
/** What a server does after a worker start (its next spare launcher) is over by then. */
const REST_MS = 500;
const SEQUENTIAL_CALLS = 300;
const HANDLE_ROUNDS = 100;

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : (process.argv[index + 1] ?? fallback);
}

const runtime = option("runtime", "bun") as RuntimeName;
const rounds = Number(option("rounds", "3"));
const checkouts = process.argv.slice(2).filter((arg, i, all) =>
  !arg.startsWith("--") && !all[i - 1]?.startsWith("--")
);
if (checkouts.length === 0) throw new Error("usage: sandboxed_fs_ab.ts [--runtime R] [--rounds N] DIR...");

type Figure = "first" | "getMetadata" | "handle";
const results = new Map<string, Record<Figure, number[]>>(
  checkouts.map((c) => [c, { first: [], getMetadata: [], handle: [] }]),
);

const dir = await mkdtemp(join(tmpdir(), "sandboxed-fs-ab-"));
const file = join(dir, "f");
await writeFile(file, "x".repeat(4096));
const sandbox = managedSandbox({ write: [dir] });

try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? checkouts : [...checkouts].reverse();
    for (const checkout of order) {
      const figures = results.get(checkout);
      if (figures === undefined) continue;
      const server = await startCommand(
        runtimeCommand(runtime, join(resolve(checkout), "mod.ts"), [
          "--listen",
          "ws://127.0.0.1:0",
          "--quiet",
        ]),
      );
      try {
        const firsts: number[] = [];
        for (let i = 0; i < FIRST_CALLS; i++) {
          await Bun.sleep(REST_MS);
          const session = await BenchClient.open(server.url);
          try {
            const start = performance.now();
            await session.call("fs/getMetadata", { path: dir, sandbox });
            firsts.push(performance.now() - start);
          } finally {
            session.close();
          }
        }
        const client = await BenchClient.open(server.url);
        try {
          await client.call("fs/getMetadata", { path: dir, sandbox });
          let start = performance.now();
          for (let i = 0; i < SEQUENTIAL_CALLS; i++) {
            await client.call("fs/getMetadata", { path: dir, sandbox });
          }
          const metadata = (performance.now() - start) / SEQUENTIAL_CALLS;
          start = performance.now();
          for (let i = 0; i < HANDLE_ROUNDS; i++) {
            await client.call("fs/open", { handleId: "h", path: file, sandbox });
            await client.call("fs/readBlock", { handleId: "h", offset: 0, len: 4096 });
            await client.call("fs/close", { handleId: "h" });
          }
          const handle = (performance.now() - start) / HANDLE_ROUNDS;
          figures.first.push(...firsts);
          figures.getMetadata.push(metadata);
          figures.handle.push(handle);
          process.stdout.write(
            `round ${round} ${runtime} ${checkout}: first ${
              firsts.map((ms) => ms.toFixed(1)).join(" ")
            } ms; ` +
              `getMetadata ${metadata.toFixed(3)} ms; open+readBlock+close ${handle.toFixed(3)} ms\n`,
          );
        } finally {
          client.close();
        }
      } finally {
        await server.stop();
      }
    }
  }
  for (const [checkout, figures] of results) {
    const line = (["first", "getMetadata", "handle"] as const).map((name) => {
      const s = summarize(figures[name]);
      return `${name} median ${s.median.toFixed(3)} (min ${s.min.toFixed(3)}, max ${s.max.toFixed(3)})`;
    });
    process.stdout.write(`${runtime} ${checkout}: ${line.join("; ")}\n`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
