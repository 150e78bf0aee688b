import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import { resolve } from "node:path";
import { DirectFileSystem, FsWorker, LineSplitter, SandboxedFileSystem } from "../../src/fs/mod.ts";
import type { FileSystem, FsWorkerOptions, SpareSource } from "../../src/fs/mod.ts";
import { detectRuntime } from "../../src/runtime/mod.ts";
import { describeFsBehaviour } from "./fs_behaviour.ts";
import { b64, DEEP_TREE_MS, deepTreeTempDir, errorOf, mkfifo, nest, OS, tempDir } from "./fs_test_helpers.ts";

const REPO = resolve(import.meta.dir, "../..");
const FIXTURE = `${REPO}/test/fixtures/fs_worker_fixture.ts`;
const DENO = Bun.which("deno") ?? `${REPO}/node_modules/.bin/deno`;
/** The program and arguments of a worker, started in the checkout with this process's environment. */
interface WorkerCommand {
  readonly program: string;
  readonly args: readonly string[];
}

const COMMANDS: Record<"bun" | "deno", WorkerCommand> = {
  bun: { program: process.execPath, args: [FIXTURE] },
  deno: { program: DENO, args: ["run", "-A", FIXTURE] },
};
const WORKER_FAILED = {
  code: -32603,
  kind: "WorkerFailed",
  message: "fs sandbox worker exited unexpectedly",
};

const runtime = await detectRuntime();
const workers: FsWorker[] = [];
afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
});

function startWorker(
  name: "bun" | "deno",
  command: WorkerCommand = COMMANDS[name],
  limits: Pick<FsWorkerOptions, "maxReplyBytes" | "maxReadFileBytes"> = {},
): FsWorker {
  const worker = new FsWorker(runtime, {
    launch: () => ({ ...command, env: runtime.env(), cwd: REPO }),
    ...limits,
  });
  workers.push(worker);
  return worker;
}

let scopes = 0;
function view(worker: FsWorker, maxReadFileBytes = 1 << 20): SandboxedFileSystem & AsyncDisposable {
  const fsys = new SandboxedFileSystem({ worker, scope: `scope-${++scopes}`, maxReadFileBytes });
  return Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() });
}

for (const name of ["bun", "deno"] as const) {
  // One worker per runtime serves the whole behaviour suite, one scope per test.
  const shared = startWorker(name);
  describeFsBehaviour(`worker on ${name}`, (options) => {
    if (options.maxReplyBytes === undefined) return Promise.resolve(view(shared, options.maxReadFileBytes));
    // The reply limit is the worker's own: a worker of that limit serves this view alone.
    const worker = startWorker(name, COMMANDS[name], { maxReplyBytes: options.maxReplyBytes });
    const fsys = view(worker, options.maxReadFileBytes);
    return Promise.resolve(Object.assign(fsys, {
      [Symbol.asyncDispose]: async () => {
        await fsys.closeAll();
        await worker.stop();
      },
    }));
  });

  describe(`FsWorker on ${name}`, () => {
    test("answers ENAMETOOLONG for a remove of a tree nested 12,000 deep, and serves on", async () => {
      // The runtime's own recursive remove aborted a Deno worker past 10,000 levels (its stack
      // overflowed) and held a Bun one for minutes; a confined remove goes as deep as a copy.
      await using dir = await deepTreeTempDir();
      await using fsys = view(shared);
      await nest(dir.join("t"), 12_000);
      expect(await errorOf(fsys.remove({ path: dir.join("t") }))).toEqual(OS.ENAMETOOLONG);
      expect(await fsys.getMetadata({ path: dir.path })).toMatchObject({ isDirectory: true });
      await new DirectFileSystem({ maxReadFileBytes: 1 << 20 }).remove({ path: dir.join("t") });
    }, DEEP_TREE_MS);

    test("answers many pipelined requests, each with its own result or error", async () => {
      await using dir = await tempDir();
      await using fsys = view(shared);
      for (let i = 0; i < 50; i++) await fs.writeFile(dir.join(`f${i}`), `content ${i}`);
      const calls = Array.from({ length: 400 }, (_, i) => {
        const path = dir.join(i % 4 === 3 ? `missing${i}` : `f${i % 50}`);
        return fsys.readFile({ path }).then(
          (result) => Buffer.from(result.dataBase64, "base64").toString(),
          (error) => error.kind as string,
        );
      });
      const results = await Promise.all(calls);
      expect(results).toEqual(
        Array.from({ length: 400 }, (_, i) => (i % 4 === 3 ? "NotFound" : `content ${i % 50}`)),
      );
    });

    test("reads a large file byte for byte, pipelined with small requests", async () => {
      await using dir = await tempDir();
      await using fsys = view(shared, 16 << 20);
      const data = randomBytes(9 * 1024 * 1024 + 7);
      await fs.writeFile(dir.join("big"), data);
      await fs.writeFile(dir.join("empty"), "");
      const [big, metadata, empty] = await Promise.all([
        fsys.readFile({ path: dir.join("big") }),
        fsys.getMetadata({ path: dir.join("big") }),
        fsys.readFile({ path: dir.join("empty") }),
      ]);
      expect(big.dataBase64 === data.toString("base64")).toBe(true);
      expect(metadata.size).toBe(data.length);
      expect(empty).toEqual({ dataBase64: "" });
    });

    test("a read held at its bound reads on the descriptor it opened once let go, and reads once", async () => {
      // Read again, a file whose reads consume it (a tracefs pipe, a FUSE stream) would lose what
      // the first read took; a file renamed over the path meanwhile shows which file is read on.
      await using dir = await tempDir();
      await using fsys = view(shared, 8 << 20);
      const first = randomBytes(3 << 20);
      await fs.writeFile(dir.join("f"), first);
      await fs.writeFile(dir.join("g"), randomBytes(3 << 20));
      const waits: string[] = [];
      const bytes = await fsys.readFileBytes({ path: dir.join("f") }, undefined, {
        heldBytes: 1 << 20,
        wait: async () => {
          waits.push("wait");
          await fs.rename(dir.join("g"), dir.join("f"));
        },
      });
      expect({ same: Buffer.from(bytes).equals(first), waits }).toEqual({ same: true, waits: ["wait"] });
      // A file within the bound is answered without a wait.
      await fs.writeFile(dir.join("small"), randomBytes(1 << 20));
      const small = await fsys.readFileBytes({ path: dir.join("small") }, undefined, {
        heldBytes: 1 << 20,
        wait: () => Promise.reject(new Error("no wait expected")),
      });
      expect(small.byteLength).toBe(1 << 20);
    });

    test("a held read whose wait fails is dropped, and the worker serves on", async () => {
      await using dir = await tempDir();
      await using fsys = view(shared, 8 << 20);
      await fs.writeFile(dir.join("f"), randomBytes(2 << 20));
      const withdrawn = fsys.readFileBytes({ path: dir.join("f") }, undefined, {
        heldBytes: 1 << 20,
        wait: () => Promise.reject(new Error("withdrawn")),
      });
      await expect(withdrawn).rejects.toThrow("withdrawn");
      expect(await fsys.getMetadata({ path: dir.join("f") })).toMatchObject({ size: 2 << 20 });
    });

    test("a listing with a reply limit of its own stops at it, below the worker's", async () => {
      await using dir = await tempDir();
      await using fsys = view(shared);
      await fs.writeFile(dir.join("a-long-enough-name"), "");
      const options = { maxDepth: 1, maxDirectories: 1, maxEntries: 10, followDirectorySymlinks: false };
      expect(await errorOf(fsys.readDirectory({ path: dir.path }, undefined, 40))).toMatchObject({
        code: -32001,
        message: "fs/readDirectory reply is over the reply limit of 40 bytes",
      });
      expect(await errorOf(fsys.walk({ path: dir.path, options }, undefined, 60))).toMatchObject({
        code: -32001,
        message: "fs/walk reply is over the reply limit of 60 bytes",
      });
      expect((await fsys.readDirectory({ path: dir.path })).entries).toHaveLength(1);
    });

    test("passes errors through exactly as DirectFileSystem throws them", async () => {
      await using dir = await tempDir();
      await using fsys = view(shared);
      const direct = new DirectFileSystem({ maxReadFileBytes: 1 << 20 });
      await fs.writeFile(dir.join("f"), "x");
      await fs.mkdir(dir.join("d"));
      mkfifo(dir.join("fifo"));
      const cases: ((target: FileSystem) => Promise<unknown>)[] = [
        (target) => target.readFile({ path: dir.join("missing") }),
        (target) => target.readFile({ path: dir.join("fifo") }),
        (target) => target.readFile({ path: dir.join("f"), maxBytes: 0 }),
        (target) => target.writeFile({ path: dir.join("d"), dataBase64: b64("x") }),
        (target) => target.writeFile({ path: dir.join("f"), dataBase64: "%%%" }),
        (target) => target.createDirectory({ path: dir.join("f/x") }),
        (target) => target.readDirectory({ path: dir.join("f") }),
        (target) =>
          target.remove({ path: dir.join("d"), recursive: false, force: false }).then(() =>
            fs.mkdir(dir.join("d"))
          ).then(() => target.remove({ path: dir.join("nope"), force: false })),
        (target) =>
          target.copy({ sourcePath: dir.join("d"), destinationPath: dir.join("d/in"), recursive: true }),
        (target) =>
          target.copy({ sourcePath: dir.join("fifo"), destinationPath: dir.join("x"), recursive: true }),
        (target) => target.readBlock({ handleId: "none", offset: 0, len: 1 }),
        (target) => target.writeBlock({ handleId: "none", offset: 0, chunk: "!" }),
        (target) => target.open({ handleId: "x".repeat(33), path: dir.join("f") }),
      ];
      for (const run of cases) expect(await errorOf(run(fsys))).toEqual(await errorOf(run(direct)));
    });

    test("keeps handles apart per scope and closes a scope's handles", async () => {
      await using dir = await tempDir();
      await fs.writeFile(dir.join("f"), "abc");
      await using one = view(shared);
      await using two = view(shared);
      await one.open({ handleId: "h", path: dir.join("f") });
      await two.open({ handleId: "h", path: dir.join("f") });
      await one.closeAll();
      expect((await errorOf(one.readBlock({ handleId: "h", offset: 0, len: 3 }))).kind).toBe("UnknownHandle");
      expect(await two.readBlock({ handleId: "h", offset: 0, len: 3 })).toEqual({
        chunk: b64("abc"),
        eof: true,
      });
    });

    test("rejects an aborted call with the abort reason and keeps serving", async () => {
      await using fsys = view(shared);
      const controller = new AbortController();
      const stalled = fsys.getMetadata({ path: "/__stall__" }, controller.signal);
      controller.abort(new Error("gave up"));
      expect(stalled).rejects.toThrow("gave up");
      expect((await fsys.getMetadata({ path: "/" })).isDirectory).toBe(true);
    });

    test("fails the requests in flight with -32603 when the worker crashes, then restarts", async () => {
      await using worker = startWorker(name);
      await using fsys = view(worker);
      expect((await fsys.getMetadata({ path: "/" })).isDirectory).toBe(true);
      const firstPid = await worker.pid();
      const stalled = errorOf(fsys.getMetadata({ path: "/__stall__" }));
      const crashing = errorOf(fsys.getMetadata({ path: "/__crash__" }));
      expect(await stalled).toEqual(WORKER_FAILED);
      expect(await crashing).toEqual(WORKER_FAILED);
      expect((await fsys.getMetadata({ path: "/" })).isDirectory).toBe(true);
      const secondPid = await worker.pid();
      expect(secondPid).not.toBeNull();
      expect(secondPid).not.toBe(firstPid);
    });

    test("ends a worker whose response line passes its bound, failing what is in flight, then restarts", async () => {
      await using worker = startWorker(name, COMMANDS[name], { maxReplyBytes: 64 * 1024 });
      await using fsys = view(worker);
      expect((await fsys.getMetadata({ path: "/" })).isDirectory).toBe(true);
      const firstPid = await worker.pid();
      const stalled = errorOf(fsys.getMetadata({ path: "/__stall__" }));
      const flooding = errorOf(fsys.getMetadata({ path: "/__flood__" }));
      const refused = {
        code: -32603,
        kind: "WorkerFailed",
        message: expect.stringMatching(
          /^fs sandbox worker sent an invalid response: a line of more than \d+ characters$/,
        ),
      };
      expect(await flooding).toEqual(refused);
      expect(await stalled).toEqual(refused);
      expect((await fsys.getMetadata({ path: "/" })).isDirectory).toBe(true);
      const secondPid = await worker.pid();
      expect(secondPid).not.toBeNull();
      expect(secondPid).not.toBe(firstPid);
    });

    test("fails the requests in flight when the worker is killed", async () => {
      await using worker = startWorker(name);
      await using fsys = view(worker);
      await fsys.getMetadata({ path: "/" });
      const pid = await worker.pid();
      const stalled = errorOf(fsys.getMetadata({ path: "/__stall__" }));
      if (pid === null) throw new Error("no worker pid");
      process.kill(pid, "SIGKILL");
      expect(await stalled).toEqual(WORKER_FAILED);
      expect((await fsys.getMetadata({ path: "/" })).isDirectory).toBe(true);
    });

    test("a handle whose worker died answers WorkerFailed until it is closed", async () => {
      // The handle lived in the dead process: the next worker knows no such id, and answering
      // `unknown file handle` for an id the connection still holds (its open answers `already
      // exists`) told the client two contradicting things (red team 14b).
      await using dir = await tempDir();
      await fs.writeFile(dir.join("f"), "hello world");
      await using worker = startWorker(name);
      await using fsys = view(worker);
      await fsys.open({ handleId: "r", path: dir.join("f") });
      await fsys.open({ handleId: "w", path: dir.join("g"), mode: "replace" });
      const pid = await worker.pid();
      if (pid === null) throw new Error("no worker pid");
      process.kill(pid, "SIGKILL");
      expect(await errorOf(fsys.readBlock({ handleId: "r", offset: 0, len: 5 }))).toEqual(WORKER_FAILED);
      expect(await errorOf(fsys.writeBlock({ handleId: "w", offset: 0, chunk: b64("x") }))).toEqual(
        WORKER_FAILED,
      );
      await fsys.close({ handleId: "r" });
      await fsys.open({ handleId: "r", path: dir.join("f") });
      expect(await fsys.readBlock({ handleId: "r", offset: 6, len: 5 })).toEqual({
        chunk: b64("world"),
        eof: true,
      });
      expect(await errorOf(fsys.readBlock({ handleId: "w", offset: 0, len: 1 }))).toEqual(WORKER_FAILED);
    });

    test("stop fails what is in flight and refuses later calls", async () => {
      const worker = startWorker(name);
      const fsys = view(worker);
      await fsys.getMetadata({ path: "/" });
      const stalled = errorOf(fsys.getMetadata({ path: "/__stall__" }));
      await worker.stop();
      expect((await stalled).kind).toBe("WorkerFailed");
      expect((await errorOf(fsys.getMetadata({ path: "/" }))).kind).toBe("WorkerFailed");
      expect(await worker.pid()).toBeNull();
    });
  });
}

describe("FsWorker start failures", () => {
  test("answers -32603 when the program cannot be spawned, and tries again next time", async () => {
    await using worker = startWorker("bun", { program: "/nonexistent/exec-server-worker", args: [] });
    await using fsys = view(worker);
    const failed = { code: -32603, kind: "WorkerFailed", message: "fs sandbox worker could not be started" };
    expect(await errorOf(fsys.getMetadata({ path: "/" }))).toEqual(failed);
    expect(await errorOf(fsys.getMetadata({ path: "/" }))).toEqual(failed);
  });

  test("answers -32603 when the worker exits at once", async () => {
    await using worker = startWorker("bun", { program: "/bin/sh", args: ["-c", "exit 3"] });
    await using fsys = view(worker);
    expect(await errorOf(fsys.getMetadata({ path: "/" }))).toEqual(WORKER_FAILED);
    expect(await errorOf(fsys.getMetadata({ path: "/" }))).toEqual(WORKER_FAILED);
  });

  test("takes the raw bytes after a bytes response as the file", async () => {
    await using worker = startWorker("bun", {
      program: "/bin/sh",
      args: ["-c", String.raw`read line; printf '{"id":1,"bytes":3}\na\nb'; sleep 60`],
    });
    // The fake worker never answers worker/closeScope; stopping the worker is the cleanup.
    const fsys = view(worker);
    expect(await fsys.readFile({ path: "/x" })).toEqual({ dataBase64: b64("a\nb") });
  });

  test("answers -32603 WorkerFailed when the worker dies inside a payload", async () => {
    await using worker = startWorker("bun", {
      program: "/bin/sh",
      args: ["-c", String.raw`read line; printf '{"id":1,"bytes":10}\nabc'`],
    });
    await using fsys = view(worker);
    expect(await errorOf(fsys.readFile({ path: "/x" }))).toEqual(WORKER_FAILED);
  });

  test("answers -32603 at once when a bytes response announces more than the file limit", async () => {
    await using worker = startWorker("bun", {
      program: "/bin/sh",
      args: [
        "-c",
        String
          .raw`read line; printf '{"id":1,"bytes":1099511627776}\n'; head -c 8388608 /dev/zero; exec sleep 60`,
      ],
    }, { maxReadFileBytes: 1 << 20 });
    await using fsys = view(worker);
    expect(await errorOf(fsys.readFile({ path: "/x" }))).toEqual({
      code: -32603,
      kind: "WorkerFailed",
      message: "fs sandbox worker sent an invalid response: 1099511627776 bytes of data, more than 1048576",
    });
  });

  test("answers -32603 when a bytes response answers a method that has a result", async () => {
    await using worker = startWorker("bun", {
      program: "/bin/sh",
      args: ["-c", String.raw`read line; printf '{"id":1,"bytes":1}\nx'; sleep 60`],
    });
    // The fake worker never answers worker/closeScope; stopping the worker is the cleanup.
    const fsys = view(worker);
    expect(await errorOf(fsys.getMetadata({ path: "/" }))).toEqual({
      code: -32603,
      kind: "WorkerFailed",
      message: "fs sandbox worker sent an invalid response: fs/getMetadata answered with bytes",
    });
  });

  test("answers -32603 when fs/readFile is answered with a result object", async () => {
    await using worker = startWorker("bun", {
      program: "/bin/sh",
      args: ["-c", String.raw`read line; printf '{"id":1,"result":{"dataBase64":""}}\n'; sleep 60`],
    });
    // The fake worker never answers worker/closeScope; stopping the worker is the cleanup.
    const fsys = view(worker);
    expect(await errorOf(fsys.readFile({ path: "/x" }))).toEqual({
      code: -32603,
      kind: "WorkerFailed",
      message: "fs sandbox worker sent an invalid response: fs/readFile answered without bytes",
    });
  });

  test("answers -32603 when the worker answers a bytes header that is garbage", async () => {
    await using worker = startWorker("bun", {
      program: "/bin/sh",
      args: ["-c", String.raw`read line; printf '{"id":1,"bytes":-4}\nabcd'; sleep 60`],
    });
    await using fsys = view(worker);
    expect(await errorOf(fsys.readFile({ path: "/x" }))).toEqual({
      code: -32603,
      kind: "WorkerFailed",
      message: "fs sandbox worker sent an invalid response: unparseable response",
    });
  });

  test("answers -32603 when the worker answers garbage", async () => {
    await using worker = startWorker("bun", {
      program: "/bin/sh",
      args: ["-c", "read line; echo garbage; sleep 60"],
    });
    await using fsys = view(worker);
    expect(await errorOf(fsys.getMetadata({ path: "/" }))).toEqual({
      code: -32603,
      kind: "WorkerFailed",
      message: "fs sandbox worker sent an invalid response: unparseable response",
    });
  });
});

describe("FsWorker and its spare source", () => {
  /** A spare source that has no spare: it records the `up` of each start it is asked for. */
  function recordingSpares(): SpareSource & {
    readonly ups: Promise<unknown>[];
    readonly firstUp: Promise<{ up: Promise<unknown> }>;
  } {
    const ups: Promise<unknown>[] = [];
    // Wrapped: a promise resolved with a promise would wait for it.
    const first = Promise.withResolvers<{ up: Promise<unknown> }>();
    return {
      ups,
      firstUp: first.promise,
      take: (_launch, up) => {
        ups.push(up);
        first.resolve({ up });
        return Promise.resolve(null);
      },
    };
  }

  function startWith(spares: SpareSource, command: WorkerCommand): FsWorker {
    const worker = new FsWorker(runtime, {
      launch: () => ({ ...command, env: runtime.env(), cwd: REPO }),
      spares,
    });
    workers.push(worker);
    return worker;
  }

  test("a start is up once the worker has answered: the next spare may start then", async () => {
    const spares = recordingSpares();
    await using worker = startWith(spares, COMMANDS.bun);
    await using fsys = view(worker);
    const answered = fsys.getMetadata({ path: "/" });
    const { up } = await spares.firstUp;
    expect(up).toBeInstanceOf(Promise);
    let upFirst = false;
    void up.then(() => {
      upFirst = true;
    });
    expect(await answered).toMatchObject({ isDirectory: true });
    // The worker's answer settled `up` before the caller saw it: its callback ran first.
    expect(upFirst).toBe(true);
  });

  test("a start whose only caller gave up sends nothing, and does not hold the next spare back", async () => {
    const spares = recordingSpares();
    await using worker = startWith(spares, COMMANDS.bun);
    await using fsys = view(worker);
    const controller = new AbortController();
    const given = fsys.getMetadata({ path: "/" }, controller.signal);
    const { up } = await spares.firstUp;
    const reason = new Error("the caller gave up");
    controller.abort(reason);
    expect(await given.then(() => null, (error: unknown) => error)).toBe(reason);
    // Nothing was sent, so no answer will come to tell that the worker is up.
    await up;
    expect(await fsys.getMetadata({ path: "/" })).toMatchObject({ isDirectory: true });
  });

  test("a start that fails, or whose worker exits at once, is over: the next spare is not held back", async () => {
    const unspawnable = recordingSpares();
    await using missing = startWith(unspawnable, { program: "/nonexistent/exec-server-worker", args: [] });
    await using missingView = view(missing);
    await errorOf(missingView.getMetadata({ path: "/" }));
    expect(unspawnable.ups[0]).toBeInstanceOf(Promise);
    await Promise.all(unspawnable.ups);

    const exiting = recordingSpares();
    await using quitter = startWith(exiting, { program: "/bin/sh", args: ["-c", "exit 3"] });
    await using quitterView = view(quitter);
    expect(await errorOf(quitterView.getMetadata({ path: "/" }))).toEqual(WORKER_FAILED);
    expect(exiting.ups[0]).toBeInstanceOf(Promise);
    await Promise.all(exiting.ups);
  });
});

describe("LineSplitter", () => {
  async function split(chunks: (string | number[])[]): Promise<string[]> {
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) {
          controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : new Uint8Array(chunk));
        }
        controller.close();
      },
    });
    return await Array.fromAsync(stream.pipeThrough(new LineSplitter()));
  }

  test("splits lines across chunk borders, with CRLF and a final unterminated line", async () => {
    expect(await split(["ab", "c\nde", "f\r\n\ng", "h"])).toEqual(["abc", "def", "", "gh"]);
  });

  test("keeps a multi-byte character cut between chunks whole", async () => {
    const bytes = [...new TextEncoder().encode("é😀\n")];
    expect(await split([bytes.slice(0, 1), bytes.slice(1, 4), bytes.slice(4)])).toEqual(["é😀"]);
  });

  test("emits nothing for an empty stream", async () => {
    expect(await split([])).toEqual([]);
  });
});
