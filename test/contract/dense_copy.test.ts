/**
 * `fs/copy` of files without holes through the real servers under Bun and under Deno: a file of a
 * MiB and more that is one run of data (copied whole by the runtime's own call under Bun), and
 * small files around the sizes where one read ends the copy (docs/performance.md, "Dense copies
 * and trees of small files"), onto new names and onto longer files that were there; the copy holds
 * the source's bytes and permission bits, never its set-id bits.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const MIB = 1 << 20;
/** Sizes around a block and a read, and past the size from which runs of data are looked for. */
const SIZES = [0, 1, 4095, 4096, 4097, 8192, MIB - 1, MIB, 3 * MIB + 5];

/** `length` bytes that are never a whole block of zeros, different for each `seed`. */
function bytesOf(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => ((i * 131 + seed) % 251) + 1);
}

async function expectSameFile(source: string, copy: string, mode: number): Promise<void> {
  expect(Buffer.compare(await fs.readFile(source), await fs.readFile(copy))).toBe(0);
  expect((await fs.stat(copy)).mode & 0o7777).toBe(mode);
}

describe.each(RUNTIMES)("fs/copy of files without holes on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("files of every size are copied whole, alone and in a tree, new or over longer files", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const copy = (from: string, to: string) =>
      client.call("fs/copy", {
        sourcePath: pathToUri(join(dir.path, from)),
        destinationPath: pathToUri(join(dir.path, to)),
        recursive: true,
      });
    await fs.mkdir(join(dir.path, "src"));
    await fs.mkdir(join(dir.path, "old"));
    for (const [index, size] of SIZES.entries()) {
      await fs.writeFile(join(dir.path, "src", `f${size}`), bytesOf(size, index), { mode: 0o640 });
      // A longer file at each name of the second copy: the copy must end where the source does.
      await fs.writeFile(join(dir.path, "old", `f${size}`), bytesOf(size + 5000, 7));
    }
    expect(await copy("src", "new")).toEqual({});
    expect(await copy("src", "old")).toEqual({});
    for (const size of SIZES) {
      await expectSameFile(join(dir.path, "src", `f${size}`), join(dir.path, "new", `f${size}`), 0o640);
      await expectSameFile(join(dir.path, "src", `f${size}`), join(dir.path, "old", `f${size}`), 0o640);
      expect(await copy(`src/f${size}`, `alone${size}`)).toEqual({});
      await expectSameFile(join(dir.path, "src", `f${size}`), join(dir.path, `alone${size}`), 0o640);
      // Onto itself: the bytes stay.
      expect(await copy(`src/f${size}`, `src/f${size}`)).toEqual({});
      await expectSameFile(join(dir.path, "new", `f${size}`), join(dir.path, "src", `f${size}`), 0o640);
    }
  });

  test.concurrent("a tree whose files cannot all be written answers the first failure, and the server serves on", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await fs.mkdir(join(dir.path, "src"));
    await fs.mkdir(join(dir.path, "dst"));
    for (let i = 0; i < 40; i++) {
      await fs.writeFile(join(dir.path, "src", `f${i}`), bytesOf(100 + i, i));
      // A directory where the source has every third file: the copy cannot write those.
      if (i % 3 === 0) await fs.mkdir(join(dir.path, "dst", `f${i}`));
    }
    const failed = await client.callError("fs/copy", {
      sourcePath: pathToUri(join(dir.path, "src")),
      destinationPath: pathToUri(join(dir.path, "dst")),
      recursive: true,
    });
    expect(failed.message).toContain("directory");
    // Whichever files the copy wrote before it stopped are whole.
    for (const name of await fs.readdir(join(dir.path, "dst"))) {
      const copy = join(dir.path, "dst", name);
      const source = join(dir.path, "src", name);
      if ((await fs.stat(copy)).isFile()) {
        await expectSameFile(source, copy, (await fs.stat(source)).mode & 0o777);
      }
    }
    expect(await client.call("fs/getMetadata", { path: pathToUri(dir.path) })).toMatchObject({
      isDirectory: true,
    });
  });

  test.concurrent("a large file's copy has its permission bits and no set-id bits", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const source = join(dir.path, "src");
    await fs.writeFile(source, bytesOf(2 * MIB, 3));
    await fs.chmod(source, 0o6751);
    for (const name of ["dst", "dst"]) {
      expect(
        await client.call("fs/copy", {
          sourcePath: pathToUri(source),
          destinationPath: pathToUri(join(dir.path, name)),
          recursive: false,
        }),
      ).toEqual({});
      await expectSameFile(source, join(dir.path, name), 0o751);
    }
  });
});
