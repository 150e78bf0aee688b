/**
 * The sandbox end to end: a WebSocket client sends `process/start` and `fs/*` with a `sandbox`
 * object to the real server (`bun mod.ts`, `deno run -A mod.ts`). Each case owns a temp dir with
 * `inside` (the writable root) and `outside` (holding `secret`), and checks that the outside is
 * unchanged, that the denial is the one of PROTOCOL.md §8.7, and that nothing the server holds
 * (its listening socket, WebSockets, other sessions' PTY masters and pipes) reaches the program.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { CallError } from "../helpers/client.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { b64, CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";

const SECRET = "top secret\n";

interface World extends AsyncDisposable {
  readonly inside: string;
  readonly outside: string;
  readonly secret: string;
  readonly sandbox: Record<string, unknown>;
  outsideUnchanged(): Promise<void>;
}

async function world(): Promise<World> {
  const dir = await tempDir();
  const inside = join(dir.path, "inside");
  const outside = join(dir.path, "outside");
  const secret = join(outside, "secret");
  await fs.mkdir(inside);
  await fs.mkdir(outside);
  await fs.writeFile(secret, SECRET);
  await fs.symlink(secret, join(inside, "link"));
  await fs.symlink(outside, join(inside, "dlink"));
  const before = await fs.stat(secret);
  return {
    inside,
    outside,
    secret,
    sandbox: managedSandbox({ write: [pathToUri(inside)] }),
    async outsideUnchanged() {
      expect(await fs.readdir(outside)).toEqual(["secret"]);
      expect(await fs.readFile(secret, "utf8")).toBe(SECRET);
      const after = await fs.stat(secret);
      expect([after.mode, after.uid, after.gid, after.mtimeMs, after.ctimeMs]).toEqual([
        before.mode,
        before.uid,
        before.gid,
        before.mtimeMs,
        before.ctimeMs,
      ]);
    },
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}

async function errorOf(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CallError) return { code: error.reply.code, message: error.reply.message };
    throw error;
  }
  throw new Error("the call succeeded");
}

describe.each(RUNTIMES)("sandbox through the server on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("a sandboxed process inherits no descriptor of the server or of other sessions", async () => {
    await using w = await world();
    await using other = await server().session();
    // Another session holds a PTY master and pipes in the server while the sandboxed one runs.
    await other.call("process/start", startParams("tty", ["cat"], w.inside, { tty: true, env: CHILD_PATH }));
    await other.call("process/start", startParams("pipe", ["cat"], w.inside, { env: CHILD_PATH }));
    await other.call("process/write", { processId: "tty", chunk: b64("ping\n") });
    await other.waitForOutput("tty", "ping\r\n");
    await using client = await server().session();
    const result = await client.call(
      "process/start",
      startParams(
        "fds",
        // `ls` reads the shell's descriptor table while the shell holds nothing of its own open.
        ["sh", "-c", "ls -l /proc/$$/fd"],
        w.inside,
        {
          env: CHILD_PATH,
          sandbox: w.sandbox,
        },
      ),
    );
    expect(result).toMatchObject({ sandboxType: "linuxSeccomp" });
    await client.untilClosed("fds");
    const lines = client.outputText("fds").trim().split("\n").filter((line) => line.includes(" -> "));
    expect(lines.map((line) => line.split(" -> ")[0]?.split(" ").at(-1))).toEqual(["0", "1", "2"]);
    expect(client.outputText("fds")).not.toMatch(/ptmx|\/dev\/pts/);
    await other.call("process/terminate", { processId: "tty" }).catch(() => null);
    await other.call("process/terminate", { processId: "pipe" }).catch(() => null);
  });

  test.concurrent("a sandboxed process cannot reach the outside, the server or other processes", async () => {
    await using w = await world();
    await using client = await server().session();
    const serverPid = server().child.pid;
    const script = [
      "cat link dlink/secret dlink/../outside/secret",
      `cat /proc/self/root${w.secret}`,
      "echo x > link; echo x > dlink/new",
      `chmod 777 dlink/secret; touch -m -d @0 dlink/secret; chmod 777 ${w.secret}`,
      `kill -0 ${serverPid} && echo signalled-server`,
      `prlimit --pid ${serverPid} --nofile=3:3 && echo limited-server`,
      `ls /proc/${serverPid} && echo saw-server`,
      "echo ok > made && echo made",
    ].join("; ");
    await client.call(
      "process/start",
      startParams("escape", ["sh", "-c", script], w.inside, { env: CHILD_PATH, sandbox: w.sandbox }),
    );
    await client.untilClosed("escape");
    const out = client.outputText("escape");
    expect(out).not.toContain("top secret");
    expect(out).not.toMatch(/signalled-server|limited-server|saw-server/);
    expect(out).toContain("made\n");
    expect(await fs.readFile(join(w.inside, "made"), "utf8")).toBe("ok\n");
    await w.outsideUnchanged();
    // The server survived every attempt and still answers.
    expect(await client.call("fs/getMetadata", { path: w.secret })).toMatchObject({ isFile: true });
  });

  test.concurrent("sandboxed fs requests stay inside their roots", async () => {
    await using w = await world();
    await using client = await server().session();
    const call = (method: string, params: Record<string, unknown>) =>
      client.call(method, { ...params, sandbox: w.sandbox });
    expect(await call("fs/writeFile", { path: join(w.inside, "a"), dataBase64: b64("hi") })).toEqual({});
    expect(await call("fs/readFile", { path: join(w.inside, "a") })).toEqual({ dataBase64: b64("hi") });
    for (const path of [w.secret, join(w.inside, "link"), join(w.inside, "dlink/secret")]) {
      expect([-32004, -32600]).toContain((await errorOf(call("fs/readFile", { path }))).code);
      expect([-32004, -32600]).toContain(
        (await errorOf(call("fs/writeFile", { path, dataBase64: b64("x") }))).code,
      );
      expect([path, (await errorOf(call("fs/getMetadata", { path }))).code]).toEqual([path, -32004]);
    }
    expect([-32004, -32600]).toContain(
      (await errorOf(call("fs/writeFile", { path: join(w.inside, "dlink/new"), dataBase64: b64("x") }))).code,
    );
    expect([-32004, -32600]).toContain(
      (await errorOf(
        call("fs/copy", { sourcePath: w.secret, destinationPath: join(w.inside, "c"), recursive: false }),
      ))
        .code,
    );
    expect([-32004, -32600, -32603]).toContain(
      (await errorOf(
        call("fs/copy", {
          sourcePath: join(w.inside, "a"),
          destinationPath: join(w.outside, "c"),
          recursive: false,
        }),
      )).code,
    );
    expect(await call("fs/remove", { path: join(w.inside, "dlink"), recursive: true, force: false })).toEqual(
      {},
    );
    expect(await fs.readFile(join(w.inside, "a"), "utf8")).toBe("hi");
    await w.outsideUnchanged();
  });
});
