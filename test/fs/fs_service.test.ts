import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { FsService, LargeListing, SMALL_DIRECTORY_BYTES } from "../../src/fs/mod.ts";
import { pathToUri } from "../../src/protocol/mod.ts";
import { knownJsonOf, resultFrame } from "../../src/rpc/mod.ts";
import { detectRuntime } from "../../src/runtime/mod.ts";
import { NO_HOST_FEATURES } from "../../src/sandbox/mod.ts";
import { b64, errorOf, tempDir, unb64 } from "./fs_test_helpers.ts";

const runtime = await detectRuntime();
const signal = new AbortController().signal;

function service(maxFileHandles?: number): FsService & AsyncDisposable {
  const fsService = new FsService(runtime, {
    ...(maxFileHandles === undefined ? {} : { maxFileHandles }),
    maxReadFileBytes: 1 << 20,
    serverCwd: "/",
    serverEnv: {},
    hostFeatures: NO_HOST_FEATURES,
    workerLaunch: () => Promise.reject(new Error("no sandbox backend here: no worker starts")),
  });
  return Object.assign(fsService, { [Symbol.asyncDispose]: () => fsService.close() });
}

describe("FsService without a sandbox", () => {
  test("bounds the file handles open across connections, and a closed one makes room", async () => {
    await using dir = await tempDir();
    await using fsService = service(3);
    await fs.writeFile(dir.join("f"), "x");
    const first = fsService.openConnection("s1");
    const second = fsService.openConnection("s2");
    const open = (connection: typeof first, handleId: string) =>
      connection.call("fs/open", { handleId, path: dir.join("f"), mode: "read" }, signal);
    await open(first, "a");
    await open(first, "b");
    await open(second, "a");
    expect(await errorOf(open(second, "b"))).toEqual({
      code: -32001,
      kind: "LimitReached",
      message: "too many open file handles: limit is 3 in the server",
    });
    await first.call("fs/close", { handleId: "a" }, signal);
    expect(await open(second, "b")).toEqual({ handleId: "b" });
    // A connection that ends gives its handles back.
    await first.close();
    await open(second, "c");
    expect(await second.call("fs/readBlock", { handleId: "c", offset: 0, len: 8 }, signal)).toEqual({
      chunk: b64("x"),
      eof: true,
    });
    await second.close();
  });

  test("a listing without a slot is made within 1 MiB: past it, a LargeListing, and run makes it whole", async () => {
    await using dir = await tempDir();
    await using fsService = service();
    const connection = fsService.openConnection("s1");
    await fs.mkdir(dir.join("small"));
    await fs.writeFile(dir.join("small/f"), "");
    await fs.mkdir(dir.join("large"));
    // About 60 units of JSON each, and 20 bytes of directory on disk: the listing passes 1 MiB, the
    // directory stays below it.
    const names = Array.from({ length: 20_000 }, (_, index) => `f${String(index).padStart(9, "0")}`);
    for (let start = 0; start < names.length; start += 1_000) {
      await Promise.all(
        names.slice(start, start + 1_000).map((name) => fs.writeFile(dir.join(`large/${name}`), "")),
      );
    }
    expect((await fs.stat(dir.join("large"))).size).toBeLessThan(SMALL_DIRECTORY_BYTES);
    const walkOptions = {
      maxDepth: 1,
      maxDirectories: 10,
      maxEntries: 50_000,
      followDirectorySymlinks: false,
    };
    expect(await connection.readDirectorySmall({ path: dir.join("small") }, signal)).toEqual({
      entries: [{ fileName: "f", isDirectory: false, isFile: true }],
    });
    expect((await connection.walkSmall({ path: dir.join("small"), options: walkOptions }, signal)).entries)
      .toHaveLength(1);
    await expect(connection.readDirectorySmall({ path: dir.join("large") }, signal)).rejects.toBeInstanceOf(
      LargeListing,
    );
    await expect(connection.walkSmall({ path: dir.join("large"), options: walkOptions }, signal)).rejects
      .toBeInstanceOf(LargeListing);
    const whole = await connection.run("fs/readDirectory", { path: dir.join("large") }, signal);
    expect(whole.entries).toHaveLength(names.length);
  });

  test("takes file URIs and native paths and answers URIs", async () => {
    await using dir = await tempDir();
    await using fsService = service();
    const connection = fsService.openConnection("s1");
    await fs.mkdir(dir.join("a b"));
    await connection.call(
      "fs/writeFile",
      { path: pathToUri(dir.join("a b/f")), dataBase64: b64("hi") },
      signal,
    );
    expect(await connection.call("fs/readFile", { path: dir.join("a b/f"), sandbox: null }, signal)).toEqual({
      dataBase64: b64("hi"),
    });
    const real = await fs.realpath(dir.path);
    expect(await connection.call("fs/canonicalize", { path: `${pathToUri(dir.path)}/x/../a%20b` }, signal))
      .toEqual({ path: pathToUri(`${real}/a b`) });
  });

  test("whole-file and block replies carry their JSON text, equal to what JSON.stringify makes", async () => {
    await using dir = await tempDir();
    await using fsService = service();
    const connection = fsService.openConnection("s1");
    await fs.writeFile(dir.join("f"), "some bytes to read");
    const whole = await connection.call("fs/readFile", { path: dir.join("f") }, signal);
    await connection.call("fs/open", { handleId: "h", path: dir.join("f"), mode: "read" }, signal);
    const block = await connection.call("fs/readBlock", { handleId: "h", offset: 5, len: 64 }, signal);
    await connection.call("fs/close", { handleId: "h" }, signal);
    expect(block).toEqual({ chunk: b64("bytes to read"), eof: true });
    for (const result of [whole, block]) {
      expect(knownJsonOf(result)).toBe(JSON.stringify(result));
      expect(resultFrame(3, result, false)).toBe(JSON.stringify({ id: 3, result }));
    }
  });

  test("names the offending path member in -32602 errors", async () => {
    await using dir = await tempDir();
    await using fsService = service();
    const connection = fsService.openConnection("s1");
    expect(await errorOf(connection.call("fs/readFile", { path: "rel/dir" }, signal))).toEqual({
      code: -32602,
      kind: "InvalidParams",
      message: 'path must be an absolute path or file URI, got "rel/dir"',
    });
    expect(
      await errorOf(
        connection.call("fs/copy", { sourcePath: "x", destinationPath: dir.path, recursive: true }, signal),
      ),
    ).toEqual({
      code: -32602,
      kind: "InvalidParams",
      message: 'sourcePath must be an absolute path or file URI, got "x"',
    });
    expect(
      await errorOf(
        connection.call(
          "fs/copy",
          { sourcePath: dir.path, destinationPath: "http://h/x", recursive: true },
          signal,
        ),
      ),
    ).toEqual({
      code: -32602,
      kind: "InvalidParams",
      message: 'destinationPath must be an absolute path or file URI, got "http://h/x"',
    });
  });

  test("fs/getMetadata refuses a wrong sandbox before a wrong path, as fs/canonicalize does, and rejects either", async () => {
    await using fsService = service();
    const connection = fsService.openConnection("s1");
    const both = { path: "rel/dir", sandbox: { nonsense: 1 } };
    const metadata = await errorOf(connection.call("fs/getMetadata", both, signal));
    expect(metadata).toEqual(await errorOf(connection.call("fs/canonicalize", both, signal)));
    expect(metadata.message).toContain("sandbox");
    expect(await errorOf(connection.call("fs/getMetadata", { path: "rel/dir", sandbox: null }, signal)))
      .toEqual({
        code: -32602,
        kind: "InvalidParams",
        message: 'path must be an absolute path or file URI, got "rel/dir"',
      });
  });

  test("keeps handles per connection and closes them with the connection", async () => {
    await using dir = await tempDir();
    await using fsService = service();
    await fs.writeFile(dir.join("f"), "abc");
    const one = fsService.openConnection("s1");
    const two = fsService.openConnection("s1");
    await one.call("fs/open", { handleId: "h", path: dir.join("f") }, signal);
    await two.call("fs/open", { handleId: "h", path: dir.join("f") }, signal);
    expect(await one.call("fs/readBlock", { handleId: "h", offset: 0, len: 3 }, signal)).toEqual({
      chunk: b64("abc"),
      eof: true,
    });
    await one.close();
    expect((await errorOf(one.call("fs/readBlock", { handleId: "h", offset: 0, len: 3 }, signal))).kind).toBe(
      "UnknownHandle",
    );
    expect(unb64(
      ((await two.call("fs/readBlock", { handleId: "h", offset: 1, len: 3 }, signal)) as {
        chunk: string;
      }).chunk,
    )).toBe("bc");
    await two.close();
  });

  test("checks the block length before the handle, as a known handle does", async () => {
    await using fsService = service();
    const connection = fsService.openConnection("s1");
    expect(await errorOf(connection.call("fs/readBlock", { handleId: "nope", offset: 0, len: 0 }, signal)))
      .toEqual({
        code: -32600,
        kind: "InvalidInput",
        message: "file read block length must be between 1 and 1048576",
      });
    expect(await connection.call("fs/close", { handleId: "nope" }, signal)).toEqual({});
  });

  test("refuses a method that is not an fs method", async () => {
    await using fsService = service();
    const connection = fsService.openConnection("s1");
    expect(connection.call("process/start", {}, signal)).rejects.toThrow(TypeError);
  });
});
