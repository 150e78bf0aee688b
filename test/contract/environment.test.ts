/**
 * The Environment contract (DESIGN.md decision 9): every case runs against the Local environment
 * (this process), a Remote one on a Bun server and a Remote one on a Deno server, and demands the
 * same result, or the same RpcError (code, kind, message, errno), from each.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RemoteEnvironment } from "../../src/client/mod.ts";
import type { Environment, ProcessEvent, ProcessHandle } from "../../src/client/mod.ts";
import { LocalEnvironment } from "../../src/local/mod.ts";
import { encodeBase64, pathToUri, RpcError } from "../../src/protocol/mod.ts";
import type { RuntimeName } from "../helpers/server.ts";
import { runServer } from "../helpers/run_servers.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";

/** The remote clients ask for binary frames (§11.12) by default; one target keeps to text. */
const TARGETS = ["local", "remote on bun", "remote on deno", "remote on deno in text"] as const;
const DECODER = new TextDecoder();

/** An event with its bytes as text, so cases compare whole objects. */
type Seen = Exclude<ProcessEvent, { type: "output" }> | {
  type: "output";
  seq: number;
  stream: string;
  text: string;
};

async function eventsOf(handle: ProcessHandle): Promise<Seen[]> {
  const seen: Seen[] = [];
  for await (const event of handle.events) {
    seen.push(
      event.type === "output"
        ? { type: "output", seq: event.seq, stream: event.stream, text: DECODER.decode(event.data) }
        : event,
    );
  }
  return seen;
}

/**
 * What a run amounts to, whatever the chunking and whether the exit overtook late output
 * (§5.4 allows both): the text per stream, the exit, and whether the seqs ran 1..n with `closed`
 * last.
 */
function summary(events: Seen[]): Record<string, unknown> {
  const text: Record<string, string> = {};
  let exit: unknown = null;
  for (const event of events) {
    if (event.type === "output") text[event.stream] = (text[event.stream] ?? "") + event.text;
    if (event.type === "exited") exit = { ...event, seq: undefined };
  }
  const seqs = events.map((event) => ("seq" in event ? event.seq : -1));
  const gapFree = seqs.every((seq, index) => seq === index + 1) && events.at(-1)?.type === "closed";
  return { text, exit, gapFree };
}

/** The facts of an RpcError, or a failure when the promise fulfils or rejects otherwise. */
async function errorOf(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    return {
      code: error.code,
      kind: error.kind,
      message: error.message,
      ...(error.errno === undefined ? {} : { errno: error.errno }),
    };
  }
  throw new Error("expected an RpcError");
}

function b64(text: string): string {
  return encodeBase64(new TextEncoder().encode(text));
}

function text(base64: string): string {
  return Buffer.from(base64, "base64").toString();
}

describe.each(TARGETS)("Environment contract, %s", (target) => {
  let environment: Environment | null = null;
  const env = (): Environment => {
    if (environment === null) throw new Error("the environment has not started");
    return environment;
  };

  beforeAll(async () => {
    if (target === "local") {
      environment = await LocalEnvironment.create();
      return;
    }
    const runtime: RuntimeName = target === "remote on bun" ? "bun" : "deno";
    const binaryFrames = target !== "remote on deno in text";
    environment = await RemoteEnvironment.connect((await runServer(runtime)).url, { binaryFrames });
  });

  afterAll(async () => {
    await environment?.close();
  });

  test.concurrent("exec.start streams the output, then the exit code and closed, seqs from 1 without gaps", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({
      argv: ["sh", "-c", "echo hi; echo oops >&2; exit 3"],
      cwd: dir.uri,
    });
    expect(proc.sandboxType).toBe("none");
    expect(summary(await eventsOf(proc))).toEqual({
      text: { stdout: "hi\n", stderr: "oops\n" },
      exit: { type: "exited", exitCode: 3, sandboxDenied: false, timedOut: false },
      gapFree: true,
    });
  });

  test.concurrent("exec.start gives the child exactly the env it is given", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({
      argv: ["/usr/bin/env"],
      cwd: dir.path,
      env: { A: "1", B: "two words" },
    });
    expect(summary(await eventsOf(proc)).text).toEqual({ stdout: "A=1\nB=two words\n" });
  });

  test.concurrent("exec.start gives the child variables named __proto__ and constructor", async () => {
    await using dir = await tempDir();
    // Parsed, not written as a literal: in a literal `__proto__` sets the prototype.
    const childEnv = JSON.parse('{"__proto__":"pp","constructor":"cc","A":"1"}') as Record<string, string>;
    await using proc = await env().exec.start({ argv: ["/usr/bin/env"], cwd: dir.path, env: childEnv });
    const stdout = summary(await eventsOf(proc)).text as Record<string, string>;
    expect((stdout["stdout"] ?? "").split("\n").filter((line) => line !== "").sort())
      .toEqual(["A=1", "__proto__=pp", "constructor=cc"]);
  });

  test.concurrent("a sandboxed process gets variables named __proto__ and constructor", async () => {
    await using dir = await tempDir();
    const childEnv = JSON.parse('{"__proto__":"pp","constructor":"cc"}') as Record<string, string>;
    await using proc = await env().exec.start({
      argv: ["/usr/bin/env"],
      cwd: dir.path,
      env: childEnv,
      sandbox: managedSandbox({ write: [dir.uri] }),
    });
    expect(proc.sandboxType).toBe("linuxSeccomp");
    const stdout = summary(await eventsOf(proc)).text as Record<string, string>;
    expect((stdout["stdout"] ?? "").split("\n").filter((line) => line !== "").sort())
      .toEqual(["__proto__=pp", "constructor=cc"]);
  });

  test.concurrent("a process reads what is written to its stdin until closeStdin", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["cat"], cwd: dir.path, pipeStdin: true });
    expect(await proc.write("one\n")).toBe("accepted");
    expect(await proc.write(new Uint8Array([0x74, 0x77, 0x6f, 0x0a]))).toBe("accepted");
    expect(await proc.closeStdin()).toBe("accepted");
    expect(await proc.closeStdin()).toBe("stdinClosed");
    expect(summary(await eventsOf(proc))).toEqual({
      text: { stdout: "one\ntwo\n" },
      exit: { type: "exited", exitCode: 0, sandboxDenied: false, timedOut: false },
      gapFree: true,
    });
  });

  test.concurrent("a write retried with its writeId (after a timeout, say) is applied once", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["cat"], cwd: dir.path, pipeStdin: true });
    expect(await proc.write("once\n", { writeId: "retried" })).toBe("accepted");
    expect(await proc.write("once\n", { writeId: "retried" })).toBe("accepted");
    expect(await proc.write("next\n")).toBe("accepted");
    expect(await proc.closeStdin()).toBe("accepted");
    expect(summary(await eventsOf(proc)).text).toEqual({ stdout: "once\nnext\n" });
  });

  test.concurrent("write answers stdinClosed for a process without pipeStdin", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    expect(await proc.write("x")).toBe("stdinClosed");
  });

  test.concurrent("terminate kills a running process: running true, exit code 137", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    expect(await proc.terminate()).toBe(true);
    expect(summary(await eventsOf(proc)).exit).toEqual({
      type: "exited",
      exitCode: 137,
      sandboxDenied: false,
      timedOut: false,
    });
    expect(await proc.terminate()).toBe(false);
  });

  test.concurrent("signal interrupt ends a sleeping process with exit code 130", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    await proc.signal("interrupt");
    expect(summary(await eventsOf(proc)).exit).toMatchObject({ exitCode: 130 });
  });

  test.concurrent("a terminal process's output arrives on the pty stream", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["sh", "-c", "printf ok"], cwd: dir.path, tty: true });
    expect(summary(await eventsOf(proc))).toMatchObject({ text: { pty: "ok" }, exit: { exitCode: 0 } });
  });

  test.concurrent("timeoutMs kills the process and its exit says timedOut", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["sleep", "30"], cwd: dir.path, timeoutMs: 100 });
    expect(summary(await eventsOf(proc)).exit).toEqual({
      type: "exited",
      exitCode: 143,
      sandboxDenied: false,
      timedOut: true,
    });
  });

  test.concurrent("read returns the whole log of a closed process", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["echo", "logged"], cwd: dir.path });
    await eventsOf(proc);
    expect(await proc.read()).toEqual({
      chunks: [{ seq: 1, stream: "stdout", chunk: b64("logged\n") }],
      nextSeq: 4,
      exited: true,
      exitCode: 0,
      closed: true,
      failure: null,
      sandboxDenied: false,
      droppedBytes: 0,
    });
  });

  test.concurrent("list shows a running process", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    const entry = (await env().exec.list()).find((row) => row.processId === proc.processId);
    expect(entry).toMatchObject({ argv0: "sleep", state: "running", tty: false, exitCode: null });
  });

  test.concurrent("a sandboxed process writes inside its root and cannot read outside it", async () => {
    await using dir = await tempDir();
    const inside = join(dir.path, "inside");
    await mkdir(inside);
    await mkdir(join(dir.path, "outside"));
    await writeFile(join(dir.path, "outside", "secret"), "top secret\n");
    const sandbox = managedSandbox({ write: [pathToUri(inside)] });
    await using proc = await env().exec.start({
      argv: ["sh", "-c", "echo in > f; cat ../outside/secret 2>/dev/null || echo denied"],
      cwd: inside,
      env: { PATH: "/usr/bin:/bin" },
      sandbox,
    });
    expect(proc.sandboxType).toBe("linuxSeccomp");
    expect(summary(await eventsOf(proc))).toMatchObject({
      text: { stdout: "denied\n" },
      exit: { exitCode: 0 },
    });
    expect(await readFile(join(inside, "f"), "utf8")).toBe("in\n");
  });

  test.concurrent("exec.start refuses an empty argv with -32602", async () => {
    await using dir = await tempDir();
    expect(await errorOf(env().exec.start({ argv: [], cwd: dir.path }))).toEqual({
      code: -32602,
      kind: "InvalidParams",
      message: "argv must not be empty",
    });
  });

  test.concurrent("exec.start refuses a relative cwd with -32602 naming it", async () => {
    expect(await errorOf(env().exec.start({ argv: ["true"], cwd: "rel/dir" }))).toEqual({
      code: -32602,
      kind: "InvalidParams",
      message: 'cwd must be an absolute path or file URI, got "rel/dir"',
    });
  });

  test.concurrent("exec.start refuses a missing cwd with -32603 SpawnFailed", async () => {
    await using dir = await tempDir();
    const missing = join(dir.path, "missing");
    expect(await errorOf(env().exec.start({ argv: ["true"], cwd: pathToUri(missing) }))).toEqual({
      code: -32603,
      kind: "SpawnFailed",
      message: `cwd ${missing}: No such file or directory (os error 2)`,
      errno: "ENOENT",
    });
  });

  test.concurrent("exec.start refuses a program that is not on PATH", async () => {
    await using dir = await tempDir();
    expect(await errorOf(env().exec.start({ argv: ["no-such-program-xyz"], cwd: dir.path }))).toEqual({
      code: -32603,
      kind: "SpawnFailed",
      message: "program no-such-program-xyz: No such file or directory (os error 2)",
      errno: "ENOENT",
    });
  });

  test.concurrent("exec.start refuses an id that is taken with -32600 ProcessExists", async () => {
    await using dir = await tempDir();
    const processId = `taken-${crypto.randomUUID()}`;
    await using proc = await env().exec.start({ processId, argv: ["sleep", "30"], cwd: dir.path });
    expect(await errorOf(env().exec.start({ processId, argv: ["true"], cwd: dir.path }))).toEqual({
      code: -32600,
      kind: "ProcessExists",
      message: `process ${processId} already exists`,
    });
    expect(await proc.terminate()).toBe(true);
  });

  test.concurrent("signal refuses an unknown signal name with -32602", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    // The name is deliberately outside the type, as a caller without types could send it.
    expect(await errorOf(proc.signal("bogus" as "kill"))).toEqual({
      code: -32602,
      kind: "InvalidParams",
      message: "unknown signal bogus",
    });
  });

  test.concurrent("resize of a process without a terminal is -32600 NoTerminal", async () => {
    await using dir = await tempDir();
    await using proc = await env().exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    expect(await errorOf(proc.resize({ cols: 100, rows: 40 }))).toEqual({
      code: -32600,
      kind: "NoTerminal",
      message: `process ${proc.processId} has no terminal`,
    });
  });

  test.concurrent("fs.writeFile then fs.readFile round-trips every byte value", async () => {
    await using dir = await tempDir();
    const bytes = new Uint8Array(256).map((_, index) => index);
    const path = join(dir.path, "bytes");
    expect(await env().fs.writeFile({ path, dataBase64: encodeBase64(bytes) })).toEqual({});
    expect(await env().fs.readFile({ path: pathToUri(path) })).toEqual({ dataBase64: encodeBase64(bytes) });
    expect(new Uint8Array(await readFile(path))).toEqual(bytes);
  });

  test.concurrent("fs.readFile of a missing file is -32004 NotFound", async () => {
    await using dir = await tempDir();
    expect(await errorOf(env().fs.readFile({ path: join(dir.path, "missing") }))).toEqual({
      code: -32004,
      kind: "NotFound",
      message: "No such file or directory (os error 2)",
      errno: "ENOENT",
    });
  });

  test.concurrent("fs.writeFile into a missing directory is -32004 and creates nothing", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "sub", "new.txt");
    expect((await errorOf(env().fs.writeFile({ path, dataBase64: b64("x") }))).code).toBe(-32004);
    expect(await stat(join(dir.path, "sub")).catch(() => null)).toBeNull();
  });

  test.concurrent("fs.createDirectory creates parents; fs.readDirectory lists entries sorted", async () => {
    await using dir = await tempDir();
    expect(await env().fs.createDirectory({ path: join(dir.path, "a", "b") })).toEqual({});
    await writeFile(join(dir.path, "a", "z.txt"), "z");
    await writeFile(join(dir.path, "a", "m.txt"), "m");
    expect(await env().fs.readDirectory({ path: join(dir.path, "a") })).toEqual({
      entries: [
        { fileName: "b", isDirectory: true, isFile: false },
        { fileName: "m.txt", isDirectory: false, isFile: true },
        { fileName: "z.txt", isDirectory: false, isFile: true },
      ],
    });
  });

  test.concurrent("fs.getMetadata describes a file through a symlink", async () => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, "f"), "hello");
    await symlink(join(dir.path, "f"), join(dir.path, "link"));
    expect(await env().fs.getMetadata({ path: join(dir.path, "link") })).toMatchObject({
      isDirectory: false,
      isFile: true,
      isSymlink: true,
      size: 5,
    });
  });

  test.concurrent("fs.getMetadata names a missing path and one below a file by their errno", async () => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, "f"), "hello");
    const notFound = {
      code: -32004,
      kind: "NotFound",
      message: "No such file or directory (os error 2)",
      errno: "ENOENT",
    };
    const notADirectory = {
      code: -32603,
      kind: "NotADirectory",
      message: "Not a directory (os error 20)",
      errno: "ENOTDIR",
    };
    const paths = ["missing", "missing/below", "f/below"].map((name) => join(dir.path, name));
    const errors = await Promise.all(paths.map((path) => errorOf(env().fs.getMetadata({ path }))));
    expect(errors).toEqual([notFound, notFound, notADirectory]);
  });

  test.concurrent("fs.canonicalize resolves symlinks to a file URI", async () => {
    await using dir = await tempDir();
    await mkdir(join(dir.path, "real dir"));
    await symlink(join(dir.path, "real dir"), join(dir.path, "link"));
    expect(await env().fs.canonicalize({ path: join(dir.path, "link") })).toEqual({
      path: pathToUri(join(dir.path, "real dir")),
    });
  });

  test.concurrent("fs.walk lists breadth-first within its limits", async () => {
    await using dir = await tempDir();
    await mkdir(join(dir.path, "d"));
    await writeFile(join(dir.path, "d", "inner"), "");
    await writeFile(join(dir.path, "top"), "");
    const options = { maxDepth: 1, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false };
    expect(await env().fs.walk({ path: dir.path, options })).toEqual({
      entries: [
        { path: pathToUri(join(dir.path, "d")), kind: "directory" },
        { path: pathToUri(join(dir.path, "top")), kind: "file" },
        { path: pathToUri(join(dir.path, "d", "inner")), kind: "file" },
      ],
      errors: [],
      truncated: false,
    });
  });

  test.concurrent("fs.remove of a non-empty directory without recursive is -32603 DirectoryNotEmpty", async () => {
    await using dir = await tempDir();
    await mkdir(join(dir.path, "full"));
    await writeFile(join(dir.path, "full", "f"), "");
    expect(await errorOf(env().fs.remove({ path: join(dir.path, "full"), recursive: false, force: false })))
      .toEqual({
        code: -32603,
        kind: "DirectoryNotEmpty",
        message: "Directory not empty (os error 39)",
        errno: "ENOTEMPTY",
      });
  });

  test.concurrent("fs.copy copies a file", async () => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, "src"), "copied");
    const request = {
      sourcePath: join(dir.path, "src"),
      destinationPath: join(dir.path, "dst"),
      recursive: false,
    };
    expect(await env().fs.copy(request)).toEqual({});
    expect(await readFile(join(dir.path, "dst"), "utf8")).toBe("copied");
  });

  test.concurrent("fs handles write and read blocks", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "blocks");
    const fs = env().fs;
    const id = crypto.randomUUID().slice(0, 8);
    expect(await fs.open({ handleId: `w${id}`, path, mode: "replace" })).toEqual({ handleId: `w${id}` });
    expect(await fs.writeBlock({ handleId: `w${id}`, offset: 0, chunk: b64("abcdef") })).toEqual({});
    expect(await fs.close({ handleId: `w${id}` })).toEqual({});
    await fs.open({ handleId: `r${id}`, path });
    expect(await fs.readBlock({ handleId: `r${id}`, offset: 2, len: 10 })).toEqual({
      chunk: b64("cdef"),
      eof: true,
    });
    await fs.closeAll();
    expect((await errorOf(fs.readBlock({ handleId: `r${id}`, offset: 0, len: 1 }))).kind).toBe(
      "UnknownHandle",
    );
  });

  test.concurrent("fs.readFile of a directory is -32600 naming the path", async () => {
    await using dir = await tempDir();
    expect(await errorOf(env().fs.readFile({ path: dir.path }))).toEqual({
      code: -32600,
      kind: "InvalidInput",
      message: `path \`${dir.path}\` is not a file`,
    });
  });

  test.concurrent("fs refuses a path with a lone surrogate with -32602 instead of reading the U+FFFD file", async () => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, "a\ufffdb"), "replacement-char file");
    const path = `${dir.path}/a\udc00b`;
    expect(await errorOf(env().fs.readFile({ path }))).toEqual({
      code: -32602,
      kind: "InvalidParams",
      message:
        `invalid params for fs/readFile: path: lone surrogate U+DC00 at index ${dir.path.length + 2}, ` +
        "which is not valid Unicode",
    });
  });

  test.concurrent("fs refuses a relative path with -32602", async () => {
    expect(await errorOf(env().fs.getMetadata({ path: "relative/path" }))).toEqual({
      code: -32602,
      kind: "InvalidParams",
      message: 'path must be an absolute path or file URI, got "relative/path"',
    });
  });

  test.concurrent("fs reads what a process wrote, and a process reads what fs wrote", async () => {
    await using dir = await tempDir();
    await env().fs.writeFile({ path: join(dir.path, "in"), dataBase64: b64("from fs\n") });
    await using proc = await env().exec.start({ argv: ["sh", "-c", "cat in > out"], cwd: dir.path });
    await eventsOf(proc);
    expect(text((await env().fs.readFile({ path: join(dir.path, "out") })).dataBase64)).toBe("from fs\n");
  });
});
