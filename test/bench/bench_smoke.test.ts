import { expect, test } from "bun:test";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const ROOT = join(import.meta.dir, "..", "..");
const BUN = join(ROOT, "node_modules", ".bin", "bun");

/** A number > 0 at `path` in `value`, or the path that is missing. */
function positiveAt(value: unknown, path: readonly string[]): number | string {
  let node: unknown = value;
  for (const key of path) {
    if (typeof node !== "object" || node === null || !(key in node)) return `missing ${path.join(".")}`;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === "number" && Number.isFinite(node) && node > 0
    ? node
    : `not positive: ${path.join(".")}`;
}

// The bench measures, it never asserts speed; this only keeps its output shape from rotting. Both
// runtimes go through the same code, so one runtime is enough (and halves the run).
test("bench --quick --json --runtime bun reports positive floor and server figures for bun", async () => {
  const args = [join(ROOT, "bench", "main.ts"), "--quick", "--json", "--runtime", "bun"];
  const { stdout } = await promisify(execFile)(BUN, args, {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 55_000,
  });
  const result: unknown = JSON.parse(stdout);
  const paths = [
    ["floor", "bun", "spawnTrueMs", "median"],
    ["floor", "bun", "spawnTrueMs", "p90"],
    ["floor", "bun", "pipeMBps"],
    ["floor", "bun", "sleeps16Ms"],
    ["server", "bun", "roundTripMs", "median"],
    ["server", "bun", "roundTripMs", "p90"],
    ["server", "bun", "stdoutMBps"],
    ["server", "bun", "sleeps16Ms"],
  ];
  const problems = paths.map((path) => positiveAt(result, path)).filter((value) => typeof value === "string");
  expect(problems).toEqual([]);
  expect(result).toMatchObject({
    server: { bun: { ok: true, fs: { available: expect.any(Boolean) } }, deno: { ok: false } },
    floor: { bun: { ok: true }, deno: { ok: false, error: "not measured (--runtime)" } },
  });
  // The figures above were measured, so nothing of the bun server may have failed.
  const server = (result as { server: { bun: { errors: Record<string, string> } } }).server;
  expect(server.bun.errors).toEqual({});
}, 60_000);
