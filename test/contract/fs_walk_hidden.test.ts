/**
 * `fs/walk` with `pruneHiddenDirectories`, which a Codex 0.169 client sends (`true`) when it looks
 * for skills: a directory whose name starts with a dot is listed but not descended, a symbolic link
 * to one likewise; files are listed whatever their name; the root is read whatever its name. As
 * the reference does (docs/protocol_notes.md §12), under Bun and Deno, direct and sandboxed.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { pathToUri } from "../../src/protocol/mod.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const OPTIONS = { maxDepth: 6, maxDirectories: 2000, maxEntries: 20000 };

/** root/{.hfile, .top/x/y, a/{a.txt, .hid/{f, deep/g}, .linkdir -> ../b}, b/z, .linkb -> b} */
async function tree(root: string): Promise<void> {
  for (const dir of [".top/x", "a/.hid/deep", "b"]) await fs.mkdir(`${root}/${dir}`, { recursive: true });
  for (const file of [".hfile", ".top/x/y", "a/a.txt", "a/.hid/f", "a/.hid/deep/g", "b/z"]) {
    await fs.writeFile(`${root}/${file}`, "");
  }
  await fs.symlink("../b", `${root}/a/.linkdir`);
  await fs.symlink("b", `${root}/.linkb`);
}

/** The walk's entries as `relative/path:kind-initial`, in order. */
function listing(root: string, result: unknown): string[] {
  const { entries } = result as { entries: { path: string; kind: string }[] };
  const prefix = pathToUri(root);
  return entries.map((entry) => `${entry.path.slice(prefix.length + 1)}:${entry.kind[0] ?? ""}`);
}

describe.each(RUNTIMES)("fs/walk pruneHiddenDirectories on %s", (runtime) => {
  const server = sharedServer(runtime);

  for (const sandboxed of [false, true]) {
    const how = sandboxed ? "sandboxed" : "direct";

    test.concurrent(`${how}: true lists hidden directories without descending them`, async () => {
      await using dir = await tempDir();
      await using client = await server().session();
      await tree(dir.path);
      const sandbox = sandboxed ? managedSandbox({ read: [dir.uri], write: [] }) : null;
      const walk = (followDirectorySymlinks: boolean) =>
        client.call("fs/walk", {
          path: dir.uri,
          options: { ...OPTIONS, followDirectorySymlinks, pruneHiddenDirectories: true },
          sandbox,
        });
      expect(listing(dir.path, await walk(true))).toEqual([
        ".hfile:f",
        ".linkb:d",
        ".top:d",
        "a:d",
        "b:d",
        "a/.hid:d",
        "a/.linkdir:d",
        "a/a.txt:f",
        "b/z:f",
      ]);
      expect(listing(dir.path, await walk(false))).toEqual([
        ".hfile:f",
        ".top:d",
        "a:d",
        "b:d",
        "a/.hid:d",
        "a/a.txt:f",
        "b/z:f",
      ]);
    });
  }

  test.concurrent("false or absent descends hidden directories", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await tree(dir.path);
    const everything = [".hfile:f", ".top:d", "a:d", "b:d", ".top/x:d", "a/.hid:d", "a/a.txt:f", "b/z:f"];
    const deeper = [".top/x/y:f", "a/.hid/deep:d", "a/.hid/f:f", "a/.hid/deep/g:f"];
    for (const extra of [{ pruneHiddenDirectories: false }, {}]) {
      const result = await client.call("fs/walk", {
        path: dir.uri,
        options: { ...OPTIONS, followDirectorySymlinks: false, ...extra },
      });
      expect(listing(dir.path, result)).toEqual([...everything, ...deeper]);
    }
  });

  test.concurrent("a hidden root is read", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await tree(dir.path);
    const root = `${dir.path}/.top`;
    const result = await client.call("fs/walk", {
      path: pathToUri(root),
      options: { ...OPTIONS, followDirectorySymlinks: false, pruneHiddenDirectories: true },
    });
    expect(listing(root, result)).toEqual(["x:d", "x/y:f"]);
  });

  test.concurrent("null or a string is -32602", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    for (const value of [null, "yes"]) {
      const error = await client.callError("fs/walk", {
        path: dir.uri,
        options: { ...OPTIONS, followDirectorySymlinks: false, pruneHiddenDirectories: value },
      });
      expect(error.code).toBe(-32602);
    }
  });
});
