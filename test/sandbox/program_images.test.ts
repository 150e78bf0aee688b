/**
 * The images the launcher, the fs worker and the start-up probe run from: the bundles built from
 * the sources (kept per version of them), or the program itself when it is a bundle already.
 */
import { describe, expect, test } from "bun:test";
import { mkdir, readdir, readFile, rm, stat, utimes } from "node:fs/promises";
import { join, resolve } from "node:path";
import { detectRuntime, type SpawnPlan } from "../../src/runtime/mod.ts";
import { prepareProgramImages } from "../../src/sandbox/mod.ts";
import { pruneVersions } from "../../src/sandbox/program_images.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const SOURCES_ENTRY = join(resolve(import.meta.dir, "../.."), "mod.ts");

describe("program images", () => {
  test("once the bundles of these sources exist, the probe runs the launcher bundle", async () => {
    const runtime = await detectRuntime();
    await using state = await tempDir();
    const self = { executable: process.execPath, script: SOURCES_ENTRY };
    const first = await prepareProgramImages(runtime, state.path, self);
    const { launcher, worker } = await first.ready;
    const again = await prepareProgramImages(runtime, state.path, self);
    expect({
      launcher: launcher.script?.endsWith("/launcher.js"),
      worker: worker.script?.endsWith("/worker.js"),
    })
      .toEqual({ launcher: true, worker: true });
    expect(again.probe).toEqual(launcher);
    // The probe's image is one of the server's own files, read-only in every sandbox.
    expect(again.ownFiles.some((file) => launcher.script?.startsWith(file + "/"))).toBe(true);
    // The bundles' directory, whole and this user's, is where servers keep things for each other.
    expect(again.sharedDir).toBe(join(launcher.script ?? "", ".."));
    expect(again.ownFiles).toContain(join(again.sharedDir ?? "", ".."));
    // The runtime's code cache is made with the bundles, inside their read-only directory.
    expect(again.cacheDir).toBe(join(again.sharedDir ?? "", "cache"));
    expect((await stat(again.cacheDir ?? "")).isDirectory()).toBe(true);
  }, 30_000);

  test("under Bun each bundle is CommonJS with its bytecode beside it, which the image names", async () => {
    const runtime = await detectRuntime();
    await using state = await tempDir();
    const self = { executable: process.execPath, script: SOURCES_ENTRY };
    const { launcher, worker } = await (await prepareProgramImages(runtime, state.path, self)).ready;
    for (const image of [launcher, worker]) {
      expect(image.companionFiles).toEqual([`${image.script}.jsc`]);
      expect((await stat(`${image.script}.jsc`)).size).toBeGreaterThan(0);
      // The pragma Bun reads before it looks for the bytecode.
      expect((await readFile(image.script ?? "", "utf8")).split("\n")[0]).toBe("// @bun @bytecode @bun-cjs");
    }
  }, 30_000);

  test(
    "the server that builds the bundles warms the code cache with one request served unconfined, then uses it itself",
    async () => {
      const real = await detectRuntime();
      const plans: SpawnPlan[] = [];
      const written: string[] = [];
      const version = `${real.version}-warm-test-${process.pid}-${Date.now()}`;
      // Another runtime version is another version of the images: this one builds them afresh.
      const runtime = new Proxy(real, {
        get(target, key) {
          if (key === "version") return version;
          if (key === "spawn") {
            return async (plan: SpawnPlan) => {
              plans.push(plan);
              const child = await target.spawn(plan);
              const stdin = child.stdin;
              if (stdin === null) return child;
              // What the warm run is given to serve.
              const recorded = {
                write: (data: Uint8Array) => {
                  written.push(new TextDecoder().decode(data));
                  return stdin.write(data);
                },
                close: () => stdin.close(),
              };
              return {
                ...child,
                stdin: recorded,
                stdout: child.stdout,
                stderr: child.stderr,
                exited: child.exited,
              };
            };
          }
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      await using state = await tempDir();
      const self = { executable: process.execPath, script: SOURCES_ENTRY };
      const images = await prepareProgramImages(runtime, state.path, self);
      const { worker, cacheDir } = await images.ready;
      const dir = join(worker.script ?? "", "..");
      try {
        // Built by this server: its probe ran before the cache existed, its launches use it once warm.
        expect(images.cacheDir).toBe(null);
        expect(cacheDir).toBe(join(dir, "cache"));
        const warm = plans.filter((plan) => plan.args.includes(worker.script ?? ""));
        expect(warm.map(({ args, cwd, env, stdin }) => ({ args: args.slice(-2), cwd, env, stdin }))).toEqual([
          {
            args: [worker.script ?? "", "fs-worker"],
            cwd: "/",
            env: real.imageEnv(state.path, join(dir, "cache")),
            stdin: "pipe",
          },
        ]);
        // A request, so that the code the worker runs to answer one is in the cache too: Deno
        // compiles Node's fs layer on first use, and a sandboxed worker cannot write the cache.
        const lines = written.join("").split("\n").filter((line) => line !== "");
        expect(lines.map((line) => JSON.parse(line).method)).toEqual(["fs/getMetadata"]);
        const later = await prepareProgramImages(runtime, state.path, self);
        expect(later.cacheDir).toBe(join(dir, "cache"));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    30_000,
  );

  test(
    "a warm run that left the worker out of the code cache is made again, three times at most, and a later server warms a cache still without it",
    async () => {
      const real = await detectRuntime();
      const warmRuns: SpawnPlan[] = [];
      let holds = false;
      const version = `${real.version}-rewarm-test-${process.pid}-${Date.now()}`;
      // A runtime whose cache never takes the worker (Deno's, when another process kept it busy),
      // until the test says it does.
      const runtime = new Proxy(real, {
        get(target, key) {
          if (key === "version") return version;
          if (key === "codeCacheHolds") return () => Promise.resolve(holds);
          if (key === "spawn") {
            return (plan: SpawnPlan) => {
              if (plan.args.includes("fs-worker")) warmRuns.push(plan);
              return target.spawn(plan);
            };
          }
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      await using state = await tempDir();
      const self = { executable: process.execPath, script: SOURCES_ENTRY };
      const { worker } = await (await prepareProgramImages(runtime, state.path, self)).ready;
      const dir = join(worker.script ?? "", "..");
      try {
        expect(warmRuns.length).toBe(3);
        // The next server finds the cache without the worker and warms it (as often) before its
        // launches.
        await (await prepareProgramImages(runtime, state.path, self)).ready;
        expect(warmRuns.length).toBe(6);
        // Once it holds the worker, a server starts without a warm run.
        holds = true;
        await (await prepareProgramImages(runtime, state.path, self)).ready;
        expect(warmRuns.length).toBe(6);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  test("a program that is not its sources serves as every image, the probe included", async () => {
    const runtime = await detectRuntime();
    await using state = await tempDir();
    const self = { executable: process.execPath, script: join(state.path, "exec-server.js") };
    const images = await prepareProgramImages(runtime, state.path, self);
    expect({
      probe: images.probe,
      ...await images.ready,
      sharedDir: images.sharedDir,
      cacheDir: images.cacheDir,
    }).toEqual({
      probe: self,
      launcher: self,
      worker: self,
      sharedDir: null,
      cacheDir: null,
    });
  });

  test("pruning removes the staging directory of a build abandoned an hour ago, and keeps a running one", async () => {
    await using cache = await tempDir();
    const current = join(cache.path, "images-0a1b2c");
    const abandoned = join(cache.path, "images-0a1b2c.tmp-AbC123");
    const building = join(cache.path, "images-0a1b2c.tmp-XyZ789");
    for (const dir of [current, abandoned, building]) await mkdir(dir);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    await utimes(abandoned, twoHoursAgo, twoHoursAgo);
    await pruneVersions(cache.path, current);
    expect((await readdir(cache.path)).sort()).toEqual(["images-0a1b2c", "images-0a1b2c.tmp-XyZ789"]);
  });
});
