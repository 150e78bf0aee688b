/**
 * The behaviour of PROTOCOL.md §7 as one suite, run against any `FileSystem` factory: the
 * in-process `DirectFileSystem`, and the worker under Bun and under Deno (identical results and
 * errors demanded).
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import { pathToUri } from "../../src/protocol/mod.ts";
import type { FileSystem } from "../../src/fs/mod.ts";
import {
  b64,
  errorOf,
  expectSparseCopy,
  invalidInput,
  mkfifo,
  OS,
  overReplyLimit,
  tempDir,
  unb64,
  writeSparse,
} from "./fs_test_helpers.ts";

/**
 * A file system under test plus its cleanup; `maxReplyBytes` is the reply limit its listings keep
 * to (none when absent).
 */
export type FsFactory = (
  options: { maxReadFileBytes: number; maxReplyBytes?: number },
) => Promise<FileSystem & AsyncDisposable>;

const LIMIT = 1 << 20;

/** Python: exchanges argv[1] and argv[2] (RENAME_EXCHANGE) while argv[3] exists; prints once. */
const EXCHANGE_LOOP = [
  "import ctypes, os, sys",
  "libc = ctypes.CDLL(None, use_errno=True)",
  "a, b = sys.argv[1].encode(), sys.argv[2].encode()",
  "libc.renameat2(-100, a, -100, b, 2)",
  "print('go', flush=True)",
  "while os.path.exists(sys.argv[3]):",
  "    libc.renameat2(-100, a, -100, b, 2)",
].join("\n");

function joinNative(dir: string, name: string): string {
  return `${dir}/${name}`;
}
const WALK = { maxDepth: 10, maxDirectories: 100, maxEntries: 100, followDirectorySymlinks: false };

/** Defines the whole behavioural suite for `label`. */
export function describeFsBehaviour(label: string, factory: FsFactory): void {
  const make = (maxReadFileBytes = LIMIT) => factory({ maxReadFileBytes });
  const limited = (maxReplyBytes: number) => factory({ maxReadFileBytes: LIMIT, maxReplyBytes });

  describe(`${label} fs/readFile`, () => {
    test("returns the whole file as base64", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) & 255);
      await fs.writeFile(dir.join("f"), bytes);
      const { dataBase64 } = await fsys.readFile({ path: dir.join("f") });
      expect(Buffer.from(dataBase64, "base64").equals(Buffer.from(bytes))).toBe(true);
    });

    test("follows a symlink", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "target");
      await fs.symlink("f", dir.join("l"));
      expect(unb64((await fsys.readFile({ path: dir.join("l") })).dataBase64)).toBe("target");
    });

    test("reads a file whose size the kernel reports as 0", async () => {
      await using fsys = await make();
      const text = unb64((await fsys.readFile({ path: "/proc/self/status" })).dataBase64);
      expect(text).toContain("Pid:");
    });

    test("refuses a directory as not a file", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      expect(await errorOf(fsys.readFile({ path: dir.path }))).toEqual(
        invalidInput(`path \`${dir.path}\` is not a file`),
      );
    });

    test("refuses a FIFO without blocking", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      mkfifo(dir.join("fifo"));
      expect(await errorOf(fsys.readFile({ path: dir.join("fifo") }))).toEqual(
        invalidInput(`path \`${dir.join("fifo")}\` is not a file`),
      );
    });

    test("refuses a device", async () => {
      await using fsys = await make();
      expect(await errorOf(fsys.readFile({ path: "/dev/null" }))).toEqual(
        invalidInput("path `/dev/null` is not a file"),
      );
    });

    test("answers -32004 for a missing file", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      expect(await errorOf(fsys.readFile({ path: dir.join("missing") }))).toEqual(OS.ENOENT);
    });

    test("refuses a file larger than maxBytes", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "12345");
      expect(await errorOf(fsys.readFile({ path: dir.join("f"), maxBytes: 4 }))).toEqual(
        invalidInput("file is too large to read: limit is 4 bytes"),
      );
      expect(unb64((await fsys.readFile({ path: dir.join("f"), maxBytes: 5 })).dataBase64)).toBe("12345");
    });

    test("refuses a file larger than --max-read-file-bytes", async () => {
      await using dir = await tempDir();
      await using fsys = await make(3);
      await fs.writeFile(dir.join("f"), "1234");
      expect(await errorOf(fsys.readFile({ path: dir.join("f"), maxBytes: 100 }))).toEqual(
        invalidInput("file is too large to read: limit is 3 bytes"),
      );
    });
  });

  describe(`${label} fs/writeFile`, () => {
    test("creates a file with the decoded bytes and mode 0666 minus umask", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      expect(await fsys.writeFile({ path: dir.join("f"), dataBase64: b64("hello") })).toEqual({});
      expect(await fs.readFile(dir.join("f"), "utf8")).toBe("hello");
      const umask = process.umask();
      expect((await fs.stat(dir.join("f"))).mode & 0o777).toBe(0o666 & ~umask);
    });

    test("truncates in place so a hard link sees the new content", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "a long original text");
      await fs.link(dir.join("f"), dir.join("hard"));
      const inode = (await fs.stat(dir.join("f"))).ino;
      await fsys.writeFile({ path: dir.join("f"), dataBase64: b64("new") });
      expect((await fs.stat(dir.join("f"))).ino).toBe(inode);
      expect(await fs.readFile(dir.join("hard"), "utf8")).toBe("new");
    });

    test("writes through a symlink to its target", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("target"), "old");
      await fs.symlink("target", dir.join("l"));
      await fsys.writeFile({ path: dir.join("l"), dataBase64: b64("new") });
      expect(await fs.readFile(dir.join("target"), "utf8")).toBe("new");
      expect((await fs.lstat(dir.join("l"))).isSymbolicLink()).toBe(true);
    });

    test("answers -32004 for a missing parent and creates nothing", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      expect(await errorOf(fsys.writeFile({ path: dir.join("no/f"), dataBase64: b64("x") }))).toEqual(
        OS.ENOENT,
      );
      expect(await fs.readdir(dir.path)).toEqual([]);
    });

    test("answers Is a directory for a directory", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      expect(await errorOf(fsys.writeFile({ path: dir.path, dataBase64: b64("x") }))).toEqual(OS.EISDIR);
    });

    test("refuses invalid base64 with -32600 and leaves the file alone", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "keep");
      expect(await errorOf(fsys.writeFile({ path: dir.join("f"), dataBase64: "ab$d" }))).toEqual(
        invalidInput("fs/writeFile requires valid base64 dataBase64: invalid character at position 2"),
      );
      expect(await errorOf(fsys.writeFile({ path: dir.join("new"), dataBase64: "a" }))).toEqual(
        invalidInput("fs/writeFile requires valid base64 dataBase64: invalid length"),
      );
      expect(await errorOf(fsys.writeFile({ path: dir.join("f"), dataBase64: "YW==" }))).toEqual(
        invalidInput(
          "fs/writeFile requires valid base64 dataBase64: non-zero unused bits in the last character at position 1",
        ),
      );
      expect(await fs.readFile(dir.join("f"), "utf8")).toBe("keep");
      expect(await fs.readdir(dir.path)).toEqual(["f"]);
    });

    test("accepts unpadded base64 and empty data", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fsys.writeFile({ path: dir.join("f"), dataBase64: "aGk" });
      expect(await fs.readFile(dir.join("f"), "utf8")).toBe("hi");
      await fsys.writeFile({ path: dir.join("f"), dataBase64: "" });
      expect((await fs.stat(dir.join("f"))).size).toBe(0);
    });
  });

  describe(`${label} fs/createDirectory`, () => {
    test("creates missing parents by default", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      expect(await fsys.createDirectory({ path: dir.join("a/b/c") })).toEqual({});
      expect((await fs.stat(dir.join("a/b/c"))).isDirectory()).toBe(true);
    });

    test("accepts an existing directory and a symlink to one when recursive", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("d"));
      await fs.symlink("d", dir.join("l"));
      expect(await fsys.createDirectory({ path: dir.join("d"), recursive: true })).toEqual({});
      expect(await fsys.createDirectory({ path: dir.join("l") })).toEqual({});
    });

    test("answers File exists for a file at the path when recursive", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "");
      expect(await errorOf(fsys.createDirectory({ path: dir.join("f") }))).toEqual(OS.EEXIST);
    });

    test("answers Not a directory for a file in a parent component", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "");
      expect(await errorOf(fsys.createDirectory({ path: dir.join("f/x/y") }))).toEqual(OS.ENOTDIR);
    });

    test("answers File exists and -32004 when not recursive", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("d"));
      expect(await errorOf(fsys.createDirectory({ path: dir.join("d"), recursive: false }))).toEqual(
        OS.EEXIST,
      );
      expect(await errorOf(fsys.createDirectory({ path: dir.join("x/y"), recursive: false }))).toEqual(
        OS.ENOENT,
      );
      expect(await fsys.createDirectory({ path: dir.join("x"), recursive: false })).toEqual({});
    });
  });

  describe(`${label} fs/getMetadata`, () => {
    test("describes a file", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "12345");
      const stat = await fs.stat(dir.join("f"));
      const meta = await fsys.getMetadata({ path: dir.join("f") });
      expect(meta).toEqual({
        isDirectory: false,
        isFile: true,
        isSymlink: false,
        size: 5,
        createdAtMs: meta.createdAtMs,
        modifiedAtMs: Math.trunc(stat.mtimeMs),
      });
      expect(Number.isInteger(meta.createdAtMs) && meta.createdAtMs >= 0).toBe(true);
    });

    test("reports a symlink to a directory as directory and symlink", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("d"));
      await fs.symlink("d", dir.join("l"));
      const meta = await fsys.getMetadata({ path: dir.join("l") });
      expect([meta.isDirectory, meta.isFile, meta.isSymlink]).toEqual([true, false, true]);
      const plain = await fsys.getMetadata({ path: dir.join("d") });
      expect([plain.isDirectory, plain.isFile, plain.isSymlink]).toEqual([true, false, false]);
    });

    test("reports a FIFO as neither file nor directory", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      mkfifo(dir.join("fifo"));
      const meta = await fsys.getMetadata({ path: dir.join("fifo") });
      expect([meta.isDirectory, meta.isFile, meta.isSymlink]).toEqual([false, false, false]);
    });

    test("answers -32004 for a dangling symlink and a missing path", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.symlink("nowhere", dir.join("dangling"));
      expect(await errorOf(fsys.getMetadata({ path: dir.join("dangling") }))).toEqual(OS.ENOENT);
      expect(await errorOf(fsys.getMetadata({ path: dir.join("missing") }))).toEqual(OS.ENOENT);
    });
  });

  describe(`${label} fs/canonicalize`, () => {
    test("resolves symlinks and returns a percent-encoded URI", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("a b"));
      await fs.symlink("a b", dir.join("l"));
      await fs.writeFile(dir.join("a b/é#"), "");
      const real = await fs.realpath(dir.path);
      expect(await fsys.canonicalize({ path: dir.join("l/é#") })).toEqual({
        path: pathToUri(`${real}/a b/é#`),
      });
      expect((await fsys.canonicalize({ path: dir.join("l") })).path).toBe(`file://${real}/a%20b`);
    });

    test("answers -32004 for a missing path", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      expect(await errorOf(fsys.canonicalize({ path: dir.join("missing") }))).toEqual(OS.ENOENT);
    });
  });

  describe(`${label} fs/readDirectory`, () => {
    test("lists entries sorted by UTF-16 code units with their targets' types", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      for (const name of ["b", "B", "a", "é", "😀", "\uFF5E", "_"]) await fs.writeFile(dir.join(name), "");
      await fs.mkdir(dir.join("sub"));
      await fs.symlink("sub", dir.join("linkdir"));
      await fs.symlink("a", dir.join("linkfile"));
      await fs.symlink("nowhere", dir.join("dangling"));
      mkfifo(dir.join("fifo"));
      const { entries } = await fsys.readDirectory({ path: dir.path });
      const file = (fileName: string) => ({ fileName, isDirectory: false, isFile: true });
      const directory = (fileName: string) => ({ fileName, isDirectory: true, isFile: false });
      expect(entries).toEqual([
        file("B"),
        file("_"),
        file("a"),
        file("b"),
        { fileName: "fifo", isDirectory: false, isFile: false },
        directory("linkdir"),
        file("linkfile"),
        directory("sub"),
        file("é"),
        file("😀"),
        file("\uFF5E"),
      ]);
    });

    test("omits a name that is not valid UTF-8", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      Bun.spawnSync(["sh", "-c", `touch "$1/bad-$(printf '\\377')" "$1/good"`, "sh", dir.path]);
      expect((await fs.readdir(dir.path)).length).toBe(2);
      expect(await fsys.readDirectory({ path: dir.path })).toEqual({
        entries: [{ fileName: "good", isDirectory: false, isFile: true }],
      });
    });

    test("answers Not a directory for a file and -32004 for a missing path", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "");
      expect(await errorOf(fsys.readDirectory({ path: dir.join("f") }))).toEqual(OS.ENOTDIR);
      expect(await errorOf(fsys.readDirectory({ path: dir.join("missing") }))).toEqual(OS.ENOENT);
    });

    test("answers -32001 naming the limit when its result would pass the reply limit", async () => {
      await using dir = await tempDir();
      for (let i = 0; i < 40; i++) await fs.writeFile(dir.join(`${"n".repeat(60)}-${i}-\u00e9\u0001"`), "");
      await fs.mkdir(dir.join("sub"));
      await fs.symlink("sub", dir.join("linkdir"));
      await fs.symlink("nowhere", dir.join("dangling"));
      mkfifo(dir.join("fifo"));
      const whole = await (async () => {
        await using fsys = await make();
        return JSON.stringify(await fsys.readDirectory({ path: dir.path }));
      })();
      // The result's JSON text is measured as the reply is: one unit more than it and it is listed.
      await using fits = await limited(whole.length);
      expect(JSON.stringify(await fits.readDirectory({ path: dir.path }))).toBe(whole);
      await using over = await limited(whole.length - 1);
      expect(await errorOf(over.readDirectory({ path: dir.path }))).toEqual(
        overReplyLimit("fs/readDirectory", whole.length - 1),
      );
    });
  });

  describe(`${label} fs/walk`, () => {
    async function tree(root: string): Promise<void> {
      // root/{a/{a1, deep/{d1}}, b, c/{c1}}
      await fs.mkdir(`${root}/a/deep`, { recursive: true });
      await fs.mkdir(`${root}/c`);
      for (const file of ["a/a1", "a/deep/d1", "b", "c/c1"]) await fs.writeFile(`${root}/${file}`, "");
    }
    const entry = (root: string, path: string, kind: "file" | "directory") => ({
      path: pathToUri(`${root}/${path}`),
      kind,
    });

    // PROTOCOL.md §7.9 names no maximum; the Codex reference refuses limits past these before it
    // looks at the root (found by test/e2e/protocol_fuzz.ts), and so does this server.
    test.each([
      ["maxDepth", { maxDepth: 65 }],
      ["maxDirectories", { maxDirectories: 10_001 }],
      ["maxEntries", { maxEntries: 50_001 }],
    ])("refuses a %s past the maximum with -32600, before looking at the root", async (_name, over) => {
      await using dir = await tempDir();
      await using fsys = await make();
      const expected = invalidInput(
        "filesystem walk limits exceed maximums: depth=64, directories=10000, entries=50000",
      );
      expect(await errorOf(fsys.walk({ path: dir.path, options: { ...WALK, ...over } }))).toEqual(expected);
      expect(await errorOf(fsys.walk({ path: dir.join("missing"), options: { ...WALK, ...over } }))).toEqual(
        expected,
      );
    });

    test("takes the maximum limits themselves", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await tree(dir.path);
      const options = {
        maxDepth: 64,
        maxDirectories: 10_000,
        maxEntries: 50_000,
        followDirectorySymlinks: false,
      };
      expect((await fsys.walk({ path: dir.path, options })).entries.length).toBe(7);
    });

    test("lists breadth-first with depth rules", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await tree(dir.path);
      const root = dir.path;
      expect(await fsys.walk({ path: root, options: { ...WALK, maxDepth: 0 } })).toEqual({
        entries: [entry(root, "a", "directory"), entry(root, "b", "file"), entry(root, "c", "directory")],
        errors: [],
        truncated: false,
      });
      expect((await fsys.walk({ path: root, options: { ...WALK, maxDepth: 1 } })).entries).toEqual([
        entry(root, "a", "directory"),
        entry(root, "b", "file"),
        entry(root, "c", "directory"),
        entry(root, "a/a1", "file"),
        entry(root, "a/deep", "directory"),
        entry(root, "c/c1", "file"),
      ]);
      expect((await fsys.walk({ path: root, options: WALK })).entries.length).toBe(7);
    });

    test("truncates at maxEntries only when more remain", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await tree(dir.path);
      const root = dir.path;
      expect(await fsys.walk({ path: root, options: { ...WALK, maxEntries: 2 } })).toEqual({
        entries: [entry(root, "a", "directory"), entry(root, "b", "file")],
        errors: [],
        truncated: true,
      });
      expect((await fsys.walk({ path: root, options: { ...WALK, maxEntries: 7 } })).truncated).toBe(false);
    });

    test("truncates when a directory would be read beyond maxDirectories", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await tree(dir.path);
      const root = dir.path;
      expect(await fsys.walk({ path: root, options: { ...WALK, maxDirectories: 1 } })).toEqual({
        entries: [entry(root, "a", "directory"), entry(root, "b", "file"), entry(root, "c", "directory")],
        errors: [],
        truncated: true,
      });
      expect((await fsys.walk({ path: root, options: { ...WALK, maxDirectories: 4 } })).truncated).toBe(
        false,
      );
    });

    test("lists file symlinks and follows directory symlinks only when asked, once per directory", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("d"));
      await fs.writeFile(dir.join("d/f"), "");
      await fs.symlink("d/f", dir.join("lf"));
      await fs.symlink("d", dir.join("ld"));
      await fs.symlink("..", dir.join("d/up"));
      await fs.symlink("nowhere", dir.join("dangling"));
      mkfifo(dir.join("fifo"));
      const root = dir.path;
      expect((await fsys.walk({ path: root, options: WALK })).entries).toEqual([
        entry(root, "d", "directory"),
        entry(root, "lf", "file"),
        entry(root, "d/f", "file"),
      ]);
      expect(await fsys.walk({ path: root, options: { ...WALK, followDirectorySymlinks: true } })).toEqual({
        entries: [
          entry(root, "d", "directory"),
          entry(root, "ld", "directory"),
          entry(root, "lf", "file"),
          entry(root, "d/f", "file"),
          entry(root, "d/up", "directory"),
        ],
        errors: [],
        truncated: false,
      });
    });

    test("answers -32001 naming the limit when its result would pass the reply limit", async () => {
      await using dir = await tempDir();
      await tree(dir.path);
      for (let i = 0; i < 20; i++) await fs.writeFile(`${dir.path}/a/deep/${"n".repeat(60)}-${i}-\u00e9`, "");
      const whole = await (async () => {
        await using fsys = await make();
        return JSON.stringify(await fsys.walk({ path: dir.path, options: WALK }));
      })();
      await using fits = await limited(whole.length);
      expect(JSON.stringify(await fits.walk({ path: dir.path, options: WALK }))).toBe(whole);
      await using over = await limited(whole.length - 1);
      expect(await errorOf(over.walk({ path: dir.path, options: WALK }))).toEqual(
        overReplyLimit("fs/walk", whole.length - 1),
      );
    });

    test("answers an empty walk for a file root and -32004 for a missing root", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "");
      expect(await fsys.walk({ path: dir.join("f"), options: WALK })).toEqual({
        entries: [],
        errors: [],
        truncated: false,
      });
      expect(await errorOf(fsys.walk({ path: dir.join("missing"), options: WALK }))).toEqual(OS.ENOENT);
    });

    test("reports a directory it cannot read and goes on", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      // 17 levels of 250-byte names exceed PATH_MAX, so the deepest directory cannot be opened by path.
      const name = "n".repeat(250);
      const script =
        `cd "$1" && mkdir z && for i in $(seq 17); do mkdir ${name} && cd -P ${name} || exit 7; done`;
      expect(Bun.spawnSync(["sh", "-c", script, "sh", dir.path]).exitCode).toBe(0);
      try {
        const result = await fsys.walk({ path: dir.path, options: { ...WALK, maxDepth: 20 } });
        expect(result.errors.length).toBe(1);
        expect(result.errors[0]?.message).toBe("File name too long (os error 36)");
        expect(result.entries.at(0)).toEqual(entry(dir.path, name, "directory"));
        expect(result.entries.some((item) => item.path.endsWith("/z"))).toBe(true);
      } finally {
        // Node-style recursive removal works by full path; `rm -r` walks relative to each directory.
        Bun.spawnSync(["rm", "-rf", "--one-file-system", "--", `${dir.path}/${name}`]);
      }
    });
  });

  describe(`${label} fs/remove`, () => {
    test("removes a whole tree by default", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("t/a/b"), { recursive: true });
      await fs.writeFile(dir.join("t/a/b/f"), "");
      expect(await fsys.remove({ path: dir.join("t") })).toEqual({});
      expect(await fs.readdir(dir.path)).toEqual([]);
    });

    test("ignores a missing path unless force is false", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      expect(await fsys.remove({ path: dir.join("missing") })).toEqual({});
      expect(await errorOf(fsys.remove({ path: dir.join("missing"), force: false }))).toEqual(OS.ENOENT);
    });

    test("refuses a non-empty directory without recursive and removes an empty one", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("full"));
      await fs.writeFile(dir.join("full/f"), "");
      await fs.mkdir(dir.join("empty"));
      expect(await errorOf(fsys.remove({ path: dir.join("full"), recursive: false, force: false }))).toEqual(
        OS.ENOTEMPTY,
      );
      await fsys.remove({ path: dir.join("empty"), recursive: false, force: false });
      expect(await fs.readdir(dir.path)).toEqual(["full"]);
    });

    test("removes a symlink itself, never its target", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("outside"));
      await fs.writeFile(dir.join("outside/keep"), "k");
      await fs.symlink(dir.join("outside"), dir.join("linkdir"));
      await fs.mkdir(dir.join("tree"));
      await fs.symlink(dir.join("outside"), dir.join("tree/inner"));
      await fsys.remove({ path: dir.join("linkdir") });
      await fsys.remove({ path: dir.join("tree") });
      await fs.symlink(dir.join("outside/keep"), dir.join("linkfile"));
      await fsys.remove({ path: dir.join("linkfile"), recursive: false, force: false });
      expect(await fs.readdir(dir.path)).toEqual(["outside"]);
      expect(await fs.readFile(dir.join("outside/keep"), "utf8")).toBe("k");
    });

    test("removes nothing outside the tree while its directories are exchanged with a link", async () => {
      // A sandbox that may write the tree exchanges `x` with a link to a host directory in a loop
      // (renameat2 RENAME_EXCHANGE), 80 levels down, where the remove has let the descriptors of
      // the shallowest levels go and finds them again on its way up.
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("host"));
      await fs.writeFile(dir.join("host/secret"), "SECRET");
      const deep = dir.join(`t/${Array.from({ length: 80 }, () => "d").join("/")}`);
      await fs.writeFile(dir.join("go"), "");
      const swapper = spawn("python3", ["-c", EXCHANGE_LOOP, `${deep}/x`, `${deep}/xl`, dir.join("go")], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const exited = new Promise((resolve) => swapper.on("exit", resolve));
      try {
        for (let round = 0; round < 20; round++) {
          await fs.mkdir(`${deep}/x`, { recursive: true });
          for (let i = 0; i < 10; i++) await fs.writeFile(`${deep}/x/f${i}`, "x");
          await fs.symlink(dir.join("host"), `${deep}/xl`);
          // The loop says when it has exchanged the two once, so the removes race it.
          if (round === 0) await new Promise((resolve) => swapper.stdout.once("data", resolve));
          // A remove may fail while the tree changes under it (ENOTEMPTY, ENOTDIR); it is tried
          // again until the tree is gone.
          for (
            let attempt = 0;
            attempt < 50 && await fs.lstat(dir.join("t")).then(() => true, () => false);
            attempt++
          ) {
            await fsys.remove({ path: dir.join("t") }).catch(() => null);
            expect(await fs.readdir(dir.join("host"))).toEqual(["secret"]);
          }
        }
      } finally {
        await fs.rm(dir.join("go"));
        await exited;
      }
    });

    test("refuses the root directory", async () => {
      await using fsys = await make();
      // Non-recursive on purpose: even a broken guard could then only attempt rmdir("/").
      expect(await errorOf(fsys.remove({ path: "/", recursive: false, force: false }))).toEqual(
        invalidInput("refusing to remove the root directory"),
      );
    });
  });

  describe(`${label} fs/copy`, () => {
    test("copies a file's bytes and permission bits", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("src"), "payload");
      await fs.chmod(dir.join("src"), 0o751);
      expect(
        await fsys.copy({ sourcePath: dir.join("src"), destinationPath: dir.join("dst"), recursive: false }),
      )
        .toEqual({});
      expect(await fs.readFile(dir.join("dst"), "utf8")).toBe("payload");
      expect((await fs.stat(dir.join("dst"))).mode & 0o777).toBe(0o751);
    });

    test("overwrites an existing file and keeps a file copied onto itself", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("src"), "new");
      await fs.writeFile(dir.join("dst"), "a much longer old text");
      await fsys.copy({ sourcePath: dir.join("src"), destinationPath: dir.join("dst"), recursive: false });
      expect(await fs.readFile(dir.join("dst"), "utf8")).toBe("new");
      await fsys.copy({ sourcePath: dir.join("src"), destinationPath: dir.join("src"), recursive: false });
      expect(await fs.readFile(dir.join("src"), "utf8")).toBe("new");
    });

    test("keeps a sparse file's holes and its bytes", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await writeSparse(dir.join("src"));
      await fsys.copy({ sourcePath: dir.join("src"), destinationPath: dir.join("dst"), recursive: false });
      await expectSparseCopy(dir.join("src"), dir.join("dst"));
    });

    test("answers Is a directory for a directory destination and -32004 for a missing parent", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("src"), "x");
      await fs.mkdir(dir.join("d"));
      expect(
        await errorOf(
          fsys.copy({ sourcePath: dir.join("src"), destinationPath: dir.join("d"), recursive: false }),
        ),
      )
        .toEqual(OS.EISDIR);
      expect(
        await errorOf(
          fsys.copy({ sourcePath: dir.join("src"), destinationPath: dir.join("no/x"), recursive: true }),
        ),
      ).toEqual(OS.ENOENT);
    });

    test("copies a symlink as a symlink with the same target text", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "");
      await fs.symlink("f", dir.join("l"));
      await fs.symlink("../nowhere", dir.join("dangling"));
      await fsys.copy({ sourcePath: dir.join("l"), destinationPath: dir.join("l2"), recursive: false });
      await fsys.copy({
        sourcePath: dir.join("dangling"),
        destinationPath: dir.join("d2"),
        recursive: false,
      });
      expect(await fs.readlink(dir.join("l2"))).toBe("f");
      expect(await fs.readlink(dir.join("d2"))).toBe("../nowhere");
    });

    test("needs recursive for a directory", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("d"));
      expect(
        await errorOf(
          fsys.copy({ sourcePath: dir.join("d"), destinationPath: dir.join("e"), recursive: false }),
        ),
      )
        .toEqual(invalidInput("fs/copy requires recursive: true when sourcePath is a directory"));
      expect(await fs.readdir(dir.path)).toEqual(["d"]);
    });

    test("refuses to copy a directory into itself or a descendant, also through a symlink", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("d/sub"), { recursive: true });
      await fs.symlink("d/sub", dir.join("alias"));
      const refused = invalidInput("fs/copy cannot copy a directory to itself or one of its descendants");
      for (const destination of ["d", "d/sub/new", "alias/new", "alias"]) {
        expect(
          await errorOf(
            fsys.copy({ sourcePath: dir.join("d"), destinationPath: dir.join(destination), recursive: true }),
          ),
        )
          .toEqual(refused);
      }
      expect(await fs.readdir(dir.join("d/sub"))).toEqual([]);
    });

    test("copies a tree recursively, merging, with links as links and specials skipped", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("src/sub"), { recursive: true });
      await fs.writeFile(dir.join("src/a"), "A");
      await fs.writeFile(dir.join("src/sub/b"), "B");
      await fs.symlink("../a", dir.join("src/sub/link"));
      mkfifo(dir.join("src/fifo"));
      await fs.mkdir(dir.join("dst"));
      await fs.writeFile(dir.join("dst/a"), "old");
      await fs.writeFile(dir.join("dst/kept"), "K");
      await fsys.copy({ sourcePath: dir.join("src"), destinationPath: dir.join("dst"), recursive: true });
      expect((await fs.readdir(dir.join("dst"))).sort()).toEqual(["a", "kept", "sub"]);
      expect(await fs.readFile(dir.join("dst/a"), "utf8")).toBe("A");
      expect(await fs.readFile(dir.join("dst/kept"), "utf8")).toBe("K");
      expect(await fs.readFile(dir.join("dst/sub/b"), "utf8")).toBe("B");
      expect(await fs.readlink(dir.join("dst/sub/link"))).toBe("../a");
      await fsys.copy({ sourcePath: dir.join("src"), destinationPath: dir.join("fresh"), recursive: true });
      expect((await fs.readdir(dir.join("fresh"))).sort()).toEqual(["a", "sub"]);
    });

    test("writes nothing through a symlink planted in the destination tree", async () => {
      // A copy into a tree that a sandbox may write: the sandbox planted `dst/sub` leading to a
      // host directory and `dst/f` to a host file, and the copy wrote the source into both.
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("src/sub"), { recursive: true });
      await fs.writeFile(dir.join("src/sub/planted"), "P");
      await fs.writeFile(dir.join("src/f"), "F");
      await fs.mkdir(dir.join("host"));
      await fs.writeFile(dir.join("host/file"), "HOST");
      await fs.mkdir(dir.join("dst"));
      await fs.symlink(dir.join("host"), dir.join("dst/sub"));
      await fs.symlink(dir.join("host/file"), dir.join("dst/f"));
      await fsys.copy({ sourcePath: dir.join("src"), destinationPath: dir.join("dst"), recursive: true });
      expect(await fs.readdir(dir.join("host"))).toEqual(["file"]);
      expect(await fs.readFile(dir.join("host/file"), "utf8")).toBe("HOST");
      expect(await fs.readFile(dir.join("dst/sub/planted"), "utf8")).toBe("P");
      expect(await fs.readFile(dir.join("dst/f"), "utf8")).toBe("F");
    });

    test("copies nothing through a directory exchanged with a symlink while the tree is copied", async () => {
      // A sandbox that may write the source exchanges `src/x` with a link to a host directory in a
      // loop (renameat2 RENAME_EXCHANGE); a copy that listed `x` as a directory and then read it by
      // name copied the host directory's files into the destination.
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.mkdir(dir.join("host"));
      await fs.writeFile(dir.join("host/secret"), "SECRET");
      await fs.mkdir(dir.join("src/x"), { recursive: true });
      for (let i = 0; i < 20; i++) await fs.writeFile(dir.join(`src/x/f${i}`), "x");
      await fs.symlink(dir.join("host"), dir.join("src/xl"));
      await fs.writeFile(dir.join("go"), "");
      const swapper = spawn("python3", [
        "-c",
        EXCHANGE_LOOP,
        dir.join("src/x"),
        dir.join("src/xl"),
        dir.join("go"),
      ], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const exited = new Promise((resolve) => swapper.on("exit", resolve));
      try {
        // The loop says when it has exchanged the two once, so every copy below races it.
        await new Promise((resolve) => swapper.stdout.once("data", resolve));
        for (let round = 0; round < 30; round++) {
          const destination = dir.join(`d${round}`);
          await fsys.copy({ sourcePath: dir.join("src"), destinationPath: destination, recursive: true })
            .catch(() => null);
          for (const name of ["x", "xl"]) {
            // A link copied as a link leads to the host directory itself: only a copied directory counts.
            const copy = joinNative(destination, name);
            const isDirectory = (await fs.lstat(copy).catch(() => null))?.isDirectory() === true;
            expect(isDirectory ? await fs.readdir(copy) : []).not.toContain("secret");
          }
          await fs.rm(destination, { recursive: true, force: true });
        }
      } finally {
        await fs.rm(dir.join("go"));
        await exited;
      }
    });

    test("refuses a FIFO or device source", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      mkfifo(dir.join("fifo"));
      const refused = invalidInput("fs/copy only supports regular files, directories, and symlinks");
      expect(
        await errorOf(
          fsys.copy({ sourcePath: dir.join("fifo"), destinationPath: dir.join("x"), recursive: true }),
        ),
      )
        .toEqual(refused);
      expect(
        await errorOf(
          fsys.copy({ sourcePath: "/dev/null", destinationPath: dir.join("x"), recursive: true }),
        ),
      )
        .toEqual(refused);
      expect(await fs.readdir(dir.path)).toEqual(["fifo"]);
    });

    test("answers -32004 for a missing source", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      expect(
        await errorOf(
          fsys.copy({ sourcePath: dir.join("missing"), destinationPath: dir.join("x"), recursive: true }),
        ),
      )
        .toEqual(OS.ENOENT);
    });
  });

  describe(`${label} file handles`, () => {
    test("reads blocks with eof", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "0123456789");
      expect(await fsys.open({ handleId: "h", path: dir.join("f") })).toEqual({ handleId: "h" });
      expect(await fsys.readBlock({ handleId: "h", offset: 0, len: 4 })).toEqual({
        chunk: b64("0123"),
        eof: false,
      });
      expect(await fsys.readBlock({ handleId: "h", offset: 6, len: 4 })).toEqual({
        chunk: b64("6789"),
        eof: true,
      });
      expect(await fsys.readBlock({ handleId: "h", offset: 8, len: 100 })).toEqual({
        chunk: b64("89"),
        eof: true,
      });
      expect(await fsys.readBlock({ handleId: "h", offset: 50, len: 1 })).toEqual({ chunk: "", eof: true });
    });

    test("keeps reading the same inode after the path is replaced", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "old");
      await fsys.open({ handleId: "h", path: dir.join("f"), mode: "read" });
      await fs.writeFile(dir.join("g"), "new");
      await fs.rename(dir.join("g"), dir.join("f"));
      expect(await fsys.readBlock({ handleId: "h", offset: 0, len: 10 })).toEqual({
        chunk: b64("old"),
        eof: true,
      });
    });

    test("replace truncates at open and writes positionally", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "previous content");
      await fsys.open({ handleId: "w", path: dir.join("f"), mode: "replace" });
      expect((await fs.stat(dir.join("f"))).size).toBe(0);
      expect(await fsys.writeBlock({ handleId: "w", offset: 4, chunk: b64("abcd") })).toEqual({});
      await fsys.writeBlock({ handleId: "w", offset: 6, chunk: b64("XYZ") });
      expect([...await fs.readFile(dir.join("f"))]).toEqual([0, 0, 0, 0, 97, 98, 88, 89, 90]);
      await fsys.open({ handleId: "new", path: dir.join("created"), mode: "replace" });
      expect((await fs.stat(dir.join("created"))).isFile()).toBe(true);
    });

    test("enforces the id length, uniqueness and the 128-handle limit", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "x");
      const path = dir.join("f");
      expect(await errorOf(fsys.open({ handleId: "é".repeat(17), path }))).toEqual(
        invalidInput("file handle ID must not exceed 32 bytes"),
      );
      await fsys.open({ handleId: "é".repeat(16), path });
      expect(await errorOf(fsys.open({ handleId: "é".repeat(16), path }))).toEqual(
        invalidInput(`file handle \`${"é".repeat(16)}\` already exists`),
      );
      for (let i = 1; i < 128; i++) await fsys.open({ handleId: `h${i}`, path });
      expect(await errorOf(fsys.open({ handleId: "one-too-many", path }))).toEqual(
        invalidInput("at most 128 file handles may be open per connection"),
      );
      await fsys.close({ handleId: "h1" });
      expect(await fsys.open({ handleId: "one-too-many", path })).toEqual({ handleId: "one-too-many" });
    });

    test("refuses a directory and a FIFO, and answers -32004 for a missing file", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      mkfifo(dir.join("fifo"));
      expect(await errorOf(fsys.open({ handleId: "d", path: dir.path }))).toEqual(
        invalidInput(`path \`${dir.path}\` is not a file`),
      );
      for (const mode of ["read", "replace"] as const) {
        expect(await errorOf(fsys.open({ handleId: "p", path: dir.join("fifo"), mode }))).toEqual(
          invalidInput(`path \`${dir.join("fifo")}\` is not a file`),
        );
      }
      expect(await errorOf(fsys.open({ handleId: "m", path: dir.join("missing") }))).toEqual(OS.ENOENT);
      expect(await errorOf(fsys.open({ handleId: "m", path: dir.join("no/x"), mode: "replace" }))).toEqual(
        OS.ENOENT,
      );
      // Refused opens leave their ids free.
      await fs.writeFile(dir.join("f"), "");
      expect(await fsys.open({ handleId: "d", path: dir.join("f") })).toEqual({ handleId: "d" });
    });

    test("checks block lengths and chunk base64", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fsys.open({ handleId: "w", path: dir.join("f"), mode: "replace" });
      const readLength = invalidInput("file read block length must be between 1 and 1048576");
      expect(await errorOf(fsys.readBlock({ handleId: "w", offset: 0, len: 0 }))).toEqual(readLength);
      expect(await errorOf(fsys.readBlock({ handleId: "w", offset: 0, len: 1048577 }))).toEqual(readLength);
      const writeLength = invalidInput("file write block length must be between 1 and 1048576");
      expect(await errorOf(fsys.writeBlock({ handleId: "w", offset: 0, chunk: "" }))).toEqual(writeLength);
      const big = Buffer.alloc(1048577).toString("base64");
      expect(await errorOf(fsys.writeBlock({ handleId: "w", offset: 0, chunk: big }))).toEqual(writeLength);
      expect(await errorOf(fsys.writeBlock({ handleId: "w", offset: 0, chunk: "a$" }))).toEqual({
        code: -32602,
        kind: "InvalidParams",
        message: "invalid base64 in chunk: invalid character at position 1",
      });
      const max = Buffer.alloc(1048576, 1).toString("base64");
      expect(await fsys.writeBlock({ handleId: "w", offset: 0, chunk: max })).toEqual({});
    });

    test("answers -32004 for an unknown handle and Bad file descriptor for the wrong direction", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "x");
      expect(await errorOf(fsys.readBlock({ handleId: "nope", offset: 0, len: 1 }))).toEqual({
        code: -32004,
        kind: "UnknownHandle",
        message: "unknown file handle `nope`",
      });
      expect(await errorOf(fsys.writeBlock({ handleId: "nope", offset: 0, chunk: b64("x") }))).toEqual({
        code: -32004,
        kind: "UnknownHandle",
        message: "unknown file handle `nope`",
      });
      await fsys.open({ handleId: "r", path: dir.join("f") });
      await fsys.open({ handleId: "w", path: dir.join("g"), mode: "replace" });
      expect(await errorOf(fsys.writeBlock({ handleId: "r", offset: 0, chunk: b64("y") }))).toEqual(OS.EBADF);
      expect(await errorOf(fsys.readBlock({ handleId: "w", offset: 0, len: 1 }))).toEqual(OS.EBADF);
      expect(await fs.readFile(dir.join("f"), "utf8")).toBe("x");
    });

    test("close is idempotent and closeAll closes everything", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "x");
      await fsys.open({ handleId: "a", path: dir.join("f") });
      await fsys.open({ handleId: "b", path: dir.join("f") });
      expect(await fsys.close({ handleId: "a" })).toEqual({});
      expect(await fsys.close({ handleId: "a" })).toEqual({});
      expect(await fsys.close({ handleId: "never" })).toEqual({});
      expect((await errorOf(fsys.readBlock({ handleId: "a", offset: 0, len: 1 }))).code).toBe(-32004);
      await fsys.closeAll();
      expect((await errorOf(fsys.readBlock({ handleId: "b", offset: 0, len: 1 }))).code).toBe(-32004);
      expect(await fsys.open({ handleId: "b", path: dir.join("f") })).toEqual({ handleId: "b" });
    });

    test("a close finishes the reads and writes already under way, and later ones find no handle", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "0123456789abcdef");
      /** What a call came to: an answer, or the error's code and message. */
      const outcome = (call: Promise<unknown>): Promise<string> =>
        call.then(() => "answered", async (error: unknown) => {
          const facts = await errorOf(Promise.reject(error));
          return `${facts.code} ${facts.message}`;
        });
      const outcomes = new Set<string>();
      for (let round = 0; round < 40; round++) {
        await fsys.open({ handleId: "h", path: dir.join("f") });
        await fsys.open({ handleId: "w", path: dir.join("g"), mode: "replace" });
        const read = () => outcome(fsys.readBlock({ handleId: "h", offset: 0, len: 16 }));
        const write = () => outcome(fsys.writeBlock({ handleId: "w", offset: 0, chunk: b64("0") }));
        const calls = [read(), read(), read(), write(), write()];
        const closed = [fsys.close({ handleId: "h" }), fsys.close({ handleId: "w" })];
        calls.push(read(), read(), write());
        for (const result of await Promise.all(calls)) outcomes.add(result);
        expect(await Promise.all(closed)).toEqual([{}, {}]);
      }
      // Only whole answers and the unknown-handle error: never a descriptor closed under a call.
      const expected = ["answered", "-32004 unknown file handle `h`", "-32004 unknown file handle `w`"];
      expect([...outcomes].filter((result) => !expected.includes(result))).toEqual([]);
    });

    test("a concurrent open of the same id loses, and a pipelined read waits for the open", async () => {
      await using dir = await tempDir();
      await using fsys = await make();
      await fs.writeFile(dir.join("f"), "abc");
      const first = fsys.open({ handleId: "h", path: dir.join("f") });
      const second = errorOf(fsys.open({ handleId: "h", path: dir.join("f") }));
      const read = fsys.readBlock({ handleId: "h", offset: 0, len: 3 });
      expect(await first).toEqual({ handleId: "h" });
      expect(await second).toEqual(invalidInput("file handle `h` already exists"));
      expect(await read).toEqual({ chunk: b64("abc"), eof: true });
    });
  });
}
