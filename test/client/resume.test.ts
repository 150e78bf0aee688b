/**
 * Reconnect and resume (PROTOCOL.md §3.6–3.7): a TCP relay between the client and the server is
 * cut while processes run; the client reconnects, resumes its session, and its handles' events
 * continue from their last seq, each event exactly once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ClientError, RemoteEnvironment } from "../../src/client/mod.ts";
import type { ExecServerClientOptions, ProcessHandle } from "../../src/client/mod.ts";
import { RpcError } from "../../src/protocol/mod.ts";
import { waitUntilDead } from "../helpers/proc.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { startTcpProxy } from "../helpers/tcp_proxy.ts";
import type { TcpProxy } from "../helpers/tcp_proxy.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { rejectionOf } from "../helpers/rejection.ts";

const MIB = 1024 * 1024;
const STREAM_BYTES = 24 * MIB;
/** A cut after every this many bytes received, `CUTS` times: the last one falls mid-stream too. */
const CUT_EVERY = 4 * MIB;
const CUTS = 5;
const SEED = 0x5eed;

/** `bytes` pseudo-random bytes from `seed` (xorshift32), so a failure can be replayed. */
function seededBytes(bytes: number, seed: number): Uint8Array {
  const words = new Uint32Array(bytes / 4);
  let state = seed;
  for (let index = 0; index < words.length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[index] = state >>> 0;
  }
  return new Uint8Array(words.buffer);
}

async function outputOf(handle: ProcessHandle): Promise<{ text: string; exitCode: number | null }> {
  let text = "";
  let exitCode: number | null = null;
  for await (const event of handle.events) {
    if (event.type === "output") text += new TextDecoder().decode(event.data);
    if (event.type === "exited") exitCode = event.exitCode;
  }
  return { text, exitCode };
}

/** A server that keeps 64 MiB of output per process, so nothing falls off while detached. */
function resumeServer(runtime: "bun" | "deno"): () => { server: TestServer; proxy: TcpProxy } {
  let state: { server: TestServer; proxy: TcpProxy } | null = null;
  beforeAll(async () => {
    const server = await startServer({ runtime, args: ["--retained-output-bytes", String(64 * MIB)] });
    state = { server, proxy: await startTcpProxy(server.url) };
  });
  afterAll(async () => {
    await state?.proxy[Symbol.asyncDispose]();
    await state?.server[Symbol.asyncDispose]();
  });
  return () => {
    if (state === null) throw new Error("the server has not started");
    return state;
  };
}

describe.each(RUNTIMES)("resume through a cut transport, server on %s", (runtime) => {
  const world = resumeServer(runtime);

  // The client's side of a resume is the same whatever the server runs on, and the servers' own
  // resume of 20 MiB across disconnects runs on both in sessions.test.ts; once keeps the suite short.
  if (runtime === "bun") {
    test(
      "a handle's events continue without gap or duplicate across cuts: 24 MiB, checksum equal",
      async () => {
        const { proxy } = world();
        await using dir = await tempDir();
        const data = seededBytes(STREAM_BYTES, SEED);
        await writeFile(join(dir.path, "data"), data);
        const expected = createHash("sha256").update(data).digest("hex");
        await using env = await RemoteEnvironment.connect(proxy.url);
        const sessionId = env.client.sessionId;
        await using proc = await env.exec.start({ argv: ["cat", "data"], cwd: dir.path });
        const hash = createHash("sha256");
        let received = 0;
        let cuts = 0;
        let lastSeq = 0;
        const problems: string[] = [];
        let exitCode: number | null = null;
        for await (const event of proc.events) {
          if (event.type === "dropped") {
            problems.push(`dropped ${event.droppedBytes}`);
            continue;
          }
          if (event.seq !== lastSeq + 1) problems.push(`seq ${event.seq} after ${lastSeq}`);
          lastSeq = event.seq;
          if (event.type === "exited") exitCode = event.exitCode;
          if (event.type !== "output") continue;
          hash.update(event.data);
          received += event.data.byteLength;
          if (cuts < CUTS && received >= (cuts + 1) * CUT_EVERY) {
            proxy.cut();
            cuts++;
          }
        }
        expect({ problems, received, cuts, exitCode, digest: hash.digest("hex"), seed: SEED }).toEqual({
          problems: [],
          received: STREAM_BYTES,
          cuts: CUTS,
          exitCode: 0,
          digest: expected,
          seed: SEED,
        });
        expect(env.client.sessionId).toBe(sessionId);
      },
    );
  }

  test("a write whose request was lost with the transport is applied once", async () => {
    const { proxy } = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(proxy.url);
    await using proc = await env.exec.start({ argv: ["cat"], cwd: dir.path, pipeStdin: true });
    proxy.holdUpstream();
    const write = proc.write("once\n");
    await proxy.whenHeld();
    proxy.cut();
    expect(await write).toBe("accepted");
    expect(await proc.closeStdin()).toBe("accepted");
    expect(await outputOf(proc)).toEqual({ text: "once\n", exitCode: 0 });
  });

  test("a start whose request was lost with the transport is sent again", async () => {
    const { proxy } = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(proxy.url);
    proxy.holdUpstream();
    const start = env.exec.start({ argv: ["sh", "-c", "echo ran >> runs; cat runs"], cwd: dir.path });
    await proxy.whenHeld();
    proxy.cut();
    await using proc = await start;
    expect(await outputOf(proc)).toEqual({ text: "ran\n", exitCode: 0 });
  });

  test("a start whose reply was lost with the transport is not repeated", async () => {
    const { proxy } = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(proxy.url);
    proxy.holdDownstream();
    const start = env.exec.start({ argv: ["sh", "-c", "echo ran >> runs; cat runs"], cwd: dir.path });
    await proxy.whenHeld();
    proxy.cut();
    await using proc = await start;
    expect(await outputOf(proc)).toEqual({ text: "ran\n", exitCode: 0 });
    expect(await readFile(join(dir.path, "runs"), "utf8")).toBe("ran\n");
  });

  test("a signal whose fate is unknown fails with outcomeUnknown instead of being sent twice", async () => {
    const { proxy } = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(proxy.url);
    await using proc = await env.exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    proxy.holdUpstream();
    const signal = proc.signal("user1");
    await proxy.whenHeld();
    proxy.cut();
    const error = await rejectionOf(signal);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ reason: "outcomeUnknown" });
    expect(await proc.terminate()).toBe(true);
  });
});

describe("a session that cannot be resumed", () => {
  const world = resumeServer("bun");
  let shortTtl: TestServer | null = null;
  beforeAll(async () => {
    shortTtl = await startServer({ runtime: "bun", args: ["--session-ttl", "0.1"] });
  });
  afterAll(async () => {
    await shortTtl?.[Symbol.asyncDispose]();
  });

  test("resumed by another connection: events and calls fail with sessionLost", async () => {
    const { server, proxy } = world();
    await using dir = await tempDir();
    const options: ExecServerClientOptions = { attachedGraceMs: 200 };
    await using env = await RemoteEnvironment.connect(proxy.url, options);
    await using proc = await env.exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    proxy.refuse = true;
    proxy.cut();
    await using thief = await server.connect();
    // The server detaches the session once it sees the relay's connection end.
    for (;;) {
      const reply = await thief.request("initialize", {
        clientName: "thief",
        resumeSessionId: env.client.sessionId,
      });
      if (reply["error"] === undefined) break;
    }
    proxy.refuse = false;
    const failure = await rejectionOf(outputOf(proc));
    expect(failure).toBeInstanceOf(ClientError);
    expect(failure).toMatchObject({ reason: "sessionLost" });
    expect(String(failure)).toContain("is attached to another connection");
    const call = await rejectionOf(env.exec.list());
    expect(call).toMatchObject({ reason: "sessionLost" });
    expect((call as ClientError).cause).toBeInstanceOf(RpcError);
  });

  test("expired: events and calls fail with sessionLost", async () => {
    if (shortTtl === null) throw new Error("the server has not started");
    await using proxy = await startTcpProxy(shortTtl.url);
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(proxy.url);
    await using proc = await env.exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    const pid = (await env.exec.list()).find((row) => row.processId === proc.processId)?.pid ?? null;
    if (pid === null) throw new Error("no pid");
    proxy.refuse = true;
    proxy.cut();
    // Expiry kills the session's processes (§3.8): that is the fact to wait for.
    await waitUntilDead(pid);
    proxy.refuse = false;
    const failure = await rejectionOf(outputOf(proc));
    expect(failure).toMatchObject({
      reason: "sessionLost",
      message: `session ${env.client.sessionId} has expired`,
    });
    expect(await rejectionOf(env.fs.getMetadata({ path: "/" }))).toMatchObject({ reason: "sessionLost" });
  });
});
