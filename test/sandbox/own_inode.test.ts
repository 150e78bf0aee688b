/**
 * The server's program file, split from the other names a package manager's hard links give it
 * (`src/sandbox/own_inode.ts`): a sandbox that writes one of those names must not change it.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmod, link, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ownInode } from "../../src/sandbox/own_inode.ts";
import { SOURCE_PACKAGES } from "../../src/sandbox/program_images.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** A bundle in `dir/install` and its package manager's cache entry in `dir/cache`, one inode. */
async function linkedBundle(dir: string): Promise<{ bundle: string; cached: string }> {
  const bundle = join(dir, "install", "exec-server.js");
  const cached = join(dir, "cache", "exec-server.js");
  spawnSync("mkdir", [join(dir, "install"), join(dir, "cache"), join(dir, "state")]);
  await writeFile(bundle, "// the bundle\n");
  await chmod(bundle, 0o751);
  await link(bundle, cached);
  return { bundle, cached };
}

describe("ownInode", () => {
  test("leaves a file no other name shares as it is", async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "exec-server.js");
    await writeFile(file, "x");
    const before = await stat(file);
    expect(await ownInode(file, dir.path)).toEqual({ kind: "alone" });
    expect((await stat(file)).ino).toBe(before.ino);
  });

  test("gives a hard-linked file an inode of its own under its name, with its mode and bytes", async () => {
    await using dir = await tempDir();
    const { bundle, cached } = await linkedBundle(dir.path);
    expect(await ownInode(bundle, join(dir.path, "state"))).toEqual({ kind: "split" });
    await writeFile(cached, "// the sandbox's\n");
    const [own, other] = [await stat(bundle), await stat(cached)];
    expect({ links: own.nlink, mode: own.mode & 0o7777, same: own.ino === other.ino }).toEqual({
      links: 1,
      mode: 0o751,
      same: false,
    });
    expect(await readFile(bundle, "utf8")).toBe("// the bundle\n");
    expect(await readdir(join(dir.path, "install"))).toEqual(["exec-server.js"]);
  });

  test("where its directory refuses the copy, the launches get a private copy in the state directory", async () => {
    await using dir = await tempDir();
    const { bundle } = await linkedBundle(dir.path);
    // Immutable: no file is made there, even by root (ext4 and most local file systems).
    const immutable = spawnSync("chattr", ["+i", join(dir.path, "install")]);
    if (immutable.status !== 0) return;
    try {
      const result = await ownInode(bundle, join(dir.path, "state"));
      expect(result).toEqual({ kind: "private", copy: join(dir.path, "state", "exec-server.js") });
      expect(await readFile(join(dir.path, "state", "exec-server.js"), "utf8")).toBe("// the bundle\n");
    } finally {
      spawnSync("chattr", ["-i", join(dir.path, "install")]);
    }
  });
});

describe("the packages a server running from its sources splits", () => {
  test("are every package the sources import at run time", async () => {
    const root = resolve(import.meta.dir, "../..");
    const imported = new Set<string>();
    for (const top of ["src", "worker"]) {
      for (const name of await readdir(join(root, top), { recursive: true })) {
        if (!name.endsWith(".ts")) continue;
        const text = await readFile(join(root, top, name), "utf8");
        // Type-only imports are erased; the runtimes' own modules and relative paths are not packages.
        for (const match of text.matchAll(/^import (?!type )[^;]*?from "([^".][^"]*)"/gm)) {
          const specifier = match[1] ?? "";
          if (!/^(node|bun):/.test(specifier)) imported.add(specifier.split("/")[0] ?? "");
        }
      }
    }
    expect([...imported].sort()).toEqual([...SOURCE_PACKAGES].sort());
  });
});
