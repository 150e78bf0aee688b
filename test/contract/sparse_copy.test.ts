/**
 * `fs/copy` of a sparse file through the real servers under Bun and under Deno: the copy holds the
 * same bytes and keeps the source's holes (docs/performance.md, "Copies that keep holes"), and a
 * file whose size the kernel reports as 0 is still copied whole.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import { expectSparseCopy, writeSparse } from "../helpers/sparse_files.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe.each(RUNTIMES)("fs/copy of sparse files on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("a sparse file's copy keeps its holes and its bytes, alone and inside a tree", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await writeSparse(join(dir.path, "src"));
    const copy = (from: string, to: string, recursive: boolean) =>
      client.call("fs/copy", {
        sourcePath: pathToUri(join(dir.path, from)),
        destinationPath: pathToUri(join(dir.path, to)),
        recursive,
      });
    expect(await copy("src", "dst", false)).toEqual({});
    await expectSparseCopy(join(dir.path, "src"), join(dir.path, "dst"));
    await fs.mkdir(join(dir.path, "tree"));
    await fs.rename(join(dir.path, "dst"), join(dir.path, "tree/f"));
    expect(await copy("tree", "tree2", true)).toEqual({});
    await expectSparseCopy(join(dir.path, "src"), join(dir.path, "tree2/f"));
  });

  test.concurrent("a file whose size the kernel reports as 0 is copied whole", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    expect(
      await client.call("fs/copy", {
        sourcePath: pathToUri("/proc/self/mountinfo"),
        destinationPath: pathToUri(join(dir.path, "mounts")),
        recursive: false,
      }),
    ).toEqual({});
    expect(await fs.readFile(join(dir.path, "mounts"), "utf8")).toContain(" - ");
  });
});
