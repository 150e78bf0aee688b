import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { codeCacheOf, denoDir, emitCacheOf } from "../../src/runtime/deno_dir.ts";

const DENO = join(resolve(import.meta.dir, "../.."), "node_modules/.bin/deno");

/** The DENO_DIR that `deno info` reports for `env`, run in `cwd`. */
function reported(env: Record<string, string>, cwd: string): string {
  const { stdout } = spawnSync(DENO, ["info"], {
    cwd,
    env: { PATH: process.env["PATH"] ?? "", NO_COLOR: "1", ...env },
  });
  const line = stdout.toString().split("\n").find((text) => text.startsWith("DENO_DIR location:"));
  return (line ?? "").replace("DENO_DIR location:", "").trim();
}

describe("denoDir", () => {
  test("is where deno itself keeps its caches", () => {
    for (
      const env of [
        { HOME: "/h" },
        { HOME: "/h", XDG_CACHE_HOME: "/x" },
        { HOME: "/h", XDG_CACHE_HOME: "/x", DENO_DIR: "/d" },
        { HOME: "/h", DENO_DIR: "relative/d" },
      ]
    ) {
      expect([env, denoDir(env, "/tmp")]).toEqual([env, reported(env, "/tmp")]);
    }
  });

  test("is null without a place", () => {
    expect(denoDir({}, "/tmp")).toBeNull();
  });

  test("keeps the emit of a source tree under gen/file and the tree's path", () => {
    expect(emitCacheOf("/h/.cache/deno", "/work/src/")).toBe("/h/.cache/deno/gen/file/work/src");
  });

  test("names the files of V8's code cache that a run of deno leaves", () => {
    const dir = mkdtempSync(join(tmpdir(), "deno-dir-"));
    try {
      writeFileSync(join(dir, "m.js"), "export const x = 1;\n");
      spawnSync(DENO, ["run", "--quiet", join(dir, "m.js")], {
        env: { PATH: process.env["PATH"] ?? "", DENO_DIR: join(dir, "cache") },
      });
      expect(codeCacheOf(join(dir, "cache")).map((file) => [file, existsSync(file)])).toEqual(
        codeCacheOf(join(dir, "cache")).map((file) => [file, true]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
