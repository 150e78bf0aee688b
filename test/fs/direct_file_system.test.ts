import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { DirectFileSystem, LargeListing } from "../../src/fs/mod.ts";
import { openFileRanges, openRootMountStat } from "../../src/runtime/mod.ts";
import { describeFsBehaviour } from "./fs_behaviour.ts";
import { DEEP_TREE_MS, deepTreeTempDir, errorOf, nest, OS, tempDir } from "./fs_test_helpers.ts";

describeFsBehaviour("DirectFileSystem", (options) => {
  const fsys = new DirectFileSystem(options);
  return Promise.resolve(Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() }));
});

describeFsBehaviour("DirectFileSystem (confined)", (options) => {
  const fsys = new DirectFileSystem({ ...options, confined: true });
  return Promise.resolve(Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() }));
});

// The server's own direct file system answers `fs/getMetadata` of root-mount paths synchronously.
const rootMountStat = await openRootMountStat("bun", process.arch);
describeFsBehaviour("DirectFileSystem (root mount stat)", (options) => {
  const fsys = new DirectFileSystem({ ...options, rootMountStat });
  return Promise.resolve(Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() }));
});

// The server's own direct file system finds a file's runs of data with `lseek` (Bun's `FileRanges`).
const fileRanges = await openFileRanges("bun", process.arch);
describeFsBehaviour("DirectFileSystem (file ranges)", (options) => {
  const fsys = new DirectFileSystem({ ...options, fileRanges });
  return Promise.resolve(Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() }));
});

/**
 * Deeper than the runtimes' own recursive removes reach: they recurse once per level, and Deno's
 * overflowed its thread's 2 MiB stack and aborted the whole process past 10,000 levels (Bun's took
 * 82 s for 3,000).
 */
const DEEP = 12_000;

describe("DirectFileSystem fs/remove of a deep tree", () => {
  test("removes a tree nested 12,000 deep", async () => {
    await using dir = await deepTreeTempDir();
    const fsys = new DirectFileSystem({ maxReadFileBytes: 1 << 20 });
    await nest(dir.join("t"), DEEP);
    expect(await fsys.remove({ path: dir.join("t") })).toEqual({});
    expect(await fs.readdir(dir.path)).toEqual([]);
  }, DEEP_TREE_MS);

  test("confined, answers ENAMETOOLONG past 2,048 levels, as a copy does", async () => {
    await using dir = await deepTreeTempDir();
    const confined = new DirectFileSystem({ maxReadFileBytes: 1 << 20, confined: true });
    await nest(dir.join("t"), 2_100);
    expect(await errorOf(confined.remove({ path: dir.join("t") }))).toEqual(OS.ENAMETOOLONG);
    await new DirectFileSystem({ maxReadFileBytes: 1 << 20 }).remove({ path: dir.join("t") });
    expect(await fs.readdir(dir.path)).toEqual([]);
  });
});

describe("DirectFileSystem fs/readFile held at a bound", () => {
  test("waits once past the bound and reads on the descriptor it opened", async () => {
    await using dir = await tempDir();
    const fsys = new DirectFileSystem({ maxReadFileBytes: 8 << 20 });
    const first = Buffer.alloc(3 << 20, 0x61);
    await fs.writeFile(dir.join("f"), first);
    await fs.writeFile(dir.join("g"), Buffer.alloc(3 << 20, 0x62));
    const waits: string[] = [];
    const bytes = await fsys.readFileBytes({ path: dir.join("f") }, 0, {
      heldBytes: 1 << 20,
      wait: async () => {
        waits.push("wait");
        await fs.rename(dir.join("g"), dir.join("f"));
      },
    });
    expect({ same: Buffer.from(bytes).equals(first), waits }).toEqual({ same: true, waits: ["wait"] });
  });

  test("a /proc file that reports no size is read within the bound without a wait", async () => {
    const fsys = new DirectFileSystem({ maxReadFileBytes: 8 << 20 });
    const bytes = await fsys.readFileBytes({ path: "/proc/self/status" }, 0, {
      heldBytes: 1 << 20,
      wait: () => Promise.reject(new Error("no wait expected")),
    });
    expect(new TextDecoder().decode(bytes)).toContain("Pid:");
  });
});

describe("DirectFileSystem listings with a directory bound", () => {
  test("a directory larger on disk than maxDirectoryBytes is not read: LargeListing, in a walk too", async () => {
    await using dir = await tempDir();
    await fs.mkdir(dir.join("d"));
    await fs.writeFile(dir.join("d/f"), "");
    const bounded = new DirectFileSystem({ maxReadFileBytes: 1 << 20, maxDirectoryBytes: 1 });
    const options = { maxDepth: 2, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false };
    await expect(bounded.readDirectory({ path: dir.join("d") })).rejects.toBeInstanceOf(LargeListing);
    await expect(bounded.walk({ path: dir.path, options })).rejects.toBeInstanceOf(LargeListing);
    const size = (await fs.stat(dir.join("d"))).size;
    const fits = new DirectFileSystem({ maxReadFileBytes: 1 << 20, maxDirectoryBytes: size });
    expect(await fits.readDirectory({ path: dir.join("d") })).toEqual({
      entries: [{ fileName: "f", isDirectory: false, isFile: true }],
    });
  });
});
