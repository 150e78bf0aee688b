import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bunTranspilerCache } from "../../src/runtime/bun_transpiler_cache.ts";

const BUN = join(resolve(import.meta.dir, "../.."), "node_modules/.bin/bun");

/** The directories under `root` where a run of `bun` with `env` left transpiler cache entries. */
function cachedUnder(root: string, env: Record<string, string>): string[] {
  const script = join(root, "big.ts");
  const values = Array.from({ length: 12_000 }, (_, i) => i).join(", ");
  writeFileSync(script, `const values: number[] = [${values}];\nexport const count = values.length;\n`);
  spawnSync(BUN, [script], { cwd: root, env: { PATH: process.env["PATH"] ?? "", ...env } });
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith(".pile") && !found.includes(dir)) found.push(dir);
    }
  };
  walk(root);
  return found;
}

describe("bunTranspilerCache", () => {
  test("names the directory where bun keeps what it transpiled", () => {
    const root = mkdtempSync(join(tmpdir(), "bun-cache-"));
    try {
      const cases: Record<string, string>[] = [
        { HOME: join(root, "h") },
        { HOME: join(root, "h"), XDG_CACHE_HOME: join(root, "x") },
        {
          HOME: join(root, "h"),
          XDG_CACHE_HOME: join(root, "x"),
          BUN_RUNTIME_TRANSPILER_CACHE_PATH: join(root, "b"),
        },
        { HOME: join(root, "h"), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "relative" },
      ];
      for (const env of cases) {
        rmSync(root, { recursive: true, force: true });
        mkdirSync(root);
        expect([env, cachedUnder(root, env)]).toEqual([env, [bunTranspilerCache(env, root) ?? "(none)"]]);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("is null where the cache is off, and bun keeps none there", () => {
    const root = mkdtempSync(join(tmpdir(), "bun-cache-"));
    try {
      for (const off of ["0", ""]) {
        const env = { HOME: join(root, "h"), BUN_RUNTIME_TRANSPILER_CACHE_PATH: off };
        expect(bunTranspilerCache(env, root)).toBeNull();
        expect(cachedUnder(root, env)).toEqual([]);
      }
      expect(existsSync(join(root, "h"))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
