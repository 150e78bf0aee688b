/**
 * A policy's roots reach the sandbox's launch as arguments: the fs worker is told the paths it may
 * read, and a Deno worker's fence lists them. The kernel refuses any one argument over 128 KiB
 * (`MAX_ARG_STRLEN`), which 700 roots of 200-character names exceed in one list: such a worker
 * died before its first answer (-32603 `fs sandbox worker exited unexpectedly`), on Deno always
 * and on Bun once the worker was told its readable paths.
 */
import { describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** Roots whose paths together take more than one argument may (128 KiB). */
const ROOTS = 700;
const NAME = "r".repeat(200);

describe.each(RUNTIMES)("a policy longer than one argument on %s", (runtime) => {
  test("is served by its sandboxed fs worker, which still answers a path outside it not found", async () => {
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    const roots = Array.from({ length: ROOTS }, (_, index) => join(dir.path, `${NAME}${index}`));
    for (const root of roots) await mkdir(root);
    await writeFile(join(roots[ROOTS - 1] ?? "", "last"), "read");
    await writeFile(join(dir.path, "outside"), "secret");
    expect(roots.join(",").length).toBeGreaterThan(128 * 1024);
    await using client = await server.session();
    const sandbox = managedSandbox({ read: roots });
    expect(await client.call("fs/readFile", { path: join(roots[ROOTS - 1] ?? "", "last"), sandbox })).toEqual(
      {
        dataBase64: btoa("read"),
      },
    );
    expect(await client.callError("fs/getMetadata", { path: join(dir.path, "outside"), sandbox }))
      .toMatchObject({
        code: -32004,
      });
  }, 120_000);
});
