import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { TestClient } from "../helpers/client.ts";
import type { ErrorReply } from "../helpers/client.ts";
import { BULK_WRITE, startHeldReader } from "../helpers/held_reader.ts";
import { isAlive, waitUntilDead } from "../helpers/proc.ts";
import { RawSocket } from "../helpers/raw_socket.ts";
import type { TestServer } from "../helpers/server.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { b64, CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

type ReadResult = {
  chunks: { seq: number; stream: string; chunk: string }[];
  nextSeq: number;
  exited: boolean;
  closed: boolean;
  droppedBytes: number;
};

const RESUME_ATTEMPTS = 500;

/**
 * Resumes `sessionId` on a new connection. The server detaches a session when it sees the old
 * transport end, which can trail the client's own close by a moment: until then the answer is
 * -32010, and the same connection may try again (§3.7 keeps it usable).
 */
async function resume(server: TestServer, sessionId: string): Promise<TestClient> {
  const client = await server.connect();
  for (let attempt = 0; attempt < RESUME_ATTEMPTS; attempt++) {
    const reply = await client.request("initialize", { clientName: "test", resumeSessionId: sessionId });
    if (reply["result"] !== undefined) {
      expect((reply["result"] as Record<string, unknown>)["sessionId"]).toBe(sessionId);
      client.sessionId = sessionId;
      client.send({ method: "initialized", params: {} });
      return client;
    }
    const error = reply["error"] as ErrorReply;
    if (error.code !== -32010) throw new Error(`resume failed: ${error.code} ${error.message}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`session ${sessionId} stayed attached`);
}

/** Every read of a process from `afterSeq` until no chunk is left, as seq → bytes. */
async function catchUp(
  client: TestClient,
  processId: string,
  afterSeq: number,
): Promise<Map<number, Buffer>> {
  const chunks = new Map<number, Buffer>();
  for (let after = afterSeq;;) {
    const result =
      (await client.call("process/read", { processId, afterSeq: after, maxBytes: 8_388_608 })) as ReadResult;
    expect(result.droppedBytes).toBe(0);
    if (result.chunks.length === 0) return chunks;
    for (const chunk of result.chunks) chunks.set(chunk.seq, Buffer.from(chunk.chunk, "base64"));
    after = result.nextSeq - 1;
  }
}

/** Output chunks gathered from notifications and reads, checked for consistency. */
class Reassembly {
  readonly chunks = new Map<number, Buffer>();

  add(seq: number, bytes: Buffer): void {
    const earlier = this.chunks.get(seq);
    if (earlier !== undefined) expect(earlier.equals(bytes)).toBe(true);
    else this.chunks.set(seq, bytes);
  }

  addEvents(client: TestClient, processId: string): void {
    for (const event of client.events(processId)) {
      if (event.method === "process/output") this.add(event.seq, Buffer.from(event.text, "latin1"));
    }
  }

  /** The highest seq with no missing chunk before it. */
  contiguous(): number {
    let seq = 0;
    while (this.chunks.has(seq + 1)) seq++;
    return seq;
  }
}

describe.each(RUNTIMES)("sessions on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("initialize resumes a detached session and process/read replays what was missed", async () => {
    await using dir = await tempDir();
    const first = await server().session();
    const argv = ["sh", "-c", "echo step1; read x; echo step2; read y; echo step3"];
    await first.call(
      "process/start",
      startParams("long", argv, dir.uri, { env: CHILD_PATH, pipeStdin: true }),
    );
    await first.waitForOutput("long", "step1\n");
    await first.call("process/write", { processId: "long", chunk: b64("\n") });
    const lastSeen = first.lastSeq("long");
    const seen = first.outputText("long");
    await first[Symbol.asyncDispose]();
    await using second = await resume(server(), first.sessionId);
    const replay = (await second.call("process/read", {
      processId: "long",
      afterSeq: lastSeen,
      waitMs: 10_000,
    })) as ReadResult;
    let text = seen + replay.chunks.map((chunk) => Buffer.from(chunk.chunk, "base64").toString()).join("");
    if (!text.includes("step2")) {
      await second.waitForOutput("long", "step2");
      text += second.outputText("long");
    }
    expect(text).toBe("step1\nstep2\n");
    await second.call("process/write", { processId: "long", chunk: b64("\n") });
    await second.untilClosed("long");
    expect(second.outputText("long").endsWith("step3\n")).toBe(true);
  });

  test.concurrent("a detached session's processes keep running and their output is readable after resume", async () => {
    await using dir = await tempDir();
    const first = await server().session();
    await first.call("process/start", startParams("cat", ["cat"], dir.uri, { pipeStdin: true }));
    const sessionId = first.sessionId;
    await first[Symbol.asyncDispose]();
    await using second = await resume(server(), sessionId);
    await second.call("process/write", { processId: "cat", chunk: b64("still here\n") });
    await second.waitForOutput("cat", "still here\n");
    expect(first.events("cat")).toEqual([]);
    await second.call("process/terminate", { processId: "cat" });
  });

  // The Codex reference drops such a start, and by timing leaves its id `starting` for good
  // (docs/protocol_notes.md §13); §3.6 runs every request the server has read.
  test.concurrent("a process/start sent right before the transport ends runs, and the resumed session owns it", async () => {
    await using dir = await tempDir();
    const first = await server().session();
    const argv = ["sh", "-c", "echo ready; exec sleep 30"];
    first.send({
      id: 900,
      method: "process/start",
      params: startParams("dropped", argv, dir.uri, { env: CHILD_PATH }),
    });
    const sessionId = first.sessionId;
    await first[Symbol.asyncDispose]();
    await using second = await resume(server(), sessionId);
    const read = (await second.call("process/read", {
      processId: "dropped",
      afterSeq: 0,
      waitMs: 10_000,
    })) as ReadResult;
    expect(Buffer.from(read.chunks[0]?.chunk ?? "", "base64").toString()).toBe("ready\n");
    expect(read.exited).toBe(false);
    const again = await second.request(
      "process/start",
      startParams("dropped", argv, dir.uri, { env: CHILD_PATH }),
    );
    expect((again["error"] as ErrorReply).message).toBe("process dropped already exists");
    expect(await second.call("process/terminate", { processId: "dropped" })).toEqual({ running: true });
    await second.untilClosed("dropped");
  });

  test.concurrent("a process/write retried after a resume while the original still waits is written once", async () => {
    await using dir = await tempDir();
    const first = await server().session();
    const child = await startHeldReader(first, { processId: "held", dir, then: "tail -c 10" });
    first.send({
      id: "bulk",
      method: "process/write",
      params: { processId: "held", chunk: BULK_WRITE, writeId: "b" },
    });
    first.send({
      id: "w",
      method: "process/write",
      params: { processId: "held", chunk: b64("ONCE\n"), writeId: "k1" },
    });
    // Answered after the write has been dispatched (§2.5), which back-pressure holds unanswered.
    await first.call("process/read", { processId: "held" });
    expect(first.messages.filter((message) => message["id"] === "w")).toEqual([]);
    await first[Symbol.asyncDispose]();
    await using second = await resume(server(), first.sessionId);
    // What a client does with a write the lost transport never answered: send it again.
    second.send({
      id: "w",
      method: "process/write",
      params: { processId: "held", chunk: b64("ONCE\n"), writeId: "k1" },
    });
    await second.call("process/read", { processId: "held" });
    await child.release();
    expect((await second.replyTo("w"))["result"]).toEqual({ status: "accepted" });
    await second.call("process/closeStdin", { processId: "held" });
    await second.untilClosed("held");
    expect(second.outputText("held")).toBe(".....ONCE\n");
  });

  test.concurrent("initialize refuses to resume an attached session and leaves both connections usable", async () => {
    await using dir = await tempDir();
    await using owner = await server().session();
    await using intruder = await server().connect();
    expect(await intruder.callError("initialize", { clientName: "other", resumeSessionId: owner.sessionId }))
      .toEqual({
        code: -32010,
        message: `session ${owner.sessionId} is already attached to another connection`,
        data: { kind: "SessionAttached" },
      });
    await owner.call("process/start", startParams("ok", ["true"], dir.uri));
    await owner.untilClosed("ok");
    await intruder.initialize();
    expect(intruder.sessionId).not.toBe(owner.sessionId);
    expect(await intruder.call("process/list", {})).toEqual({ processes: [] });
  });

  test.concurrent("initialize refuses an unknown session id and leaves the connection new", async () => {
    await using client = await server().connect();
    const id = "00000000-0000-4000-8000-000000000000";
    expect(await client.callError("initialize", { clientName: "x", resumeSessionId: id })).toEqual({
      code: -32600,
      message: `unknown session id ${id}`,
      data: { kind: "UnknownSession" },
    });
    await client.initialize();
    expect(await client.call("process/list", {})).toEqual({ processes: [] });
  });

  test.concurrent("a resumed session can be resumed again after the next disconnect", async () => {
    await using dir = await tempDir();
    const first = await server().session();
    await first.call("process/start", startParams("keep", ["sleep", "30"], dir.uri));
    await first[Symbol.asyncDispose]();
    const second = await resume(server(), first.sessionId);
    await second[Symbol.asyncDispose]();
    await using third = await resume(server(), first.sessionId);
    expect(await third.call("process/terminate", { processId: "keep" })).toEqual({ running: true });
  });

  test.concurrent("resume keeps 20 MiB intact across 20 disconnects during one process", async () => {
    await using big = await startServer({ runtime, args: ["--retained-output-bytes", "67108864"] });
    await using dir = await tempDir();
    const segment = 1_048_576;
    // Each line of input releases one segment, so every disconnect falls in the middle of the output.
    const argv = [
      "sh",
      "-c",
      `for i in $(seq 20); do read x || exit 1; head -c ${segment} /dev/urandom; done | tee out.bin`,
    ];
    let client = await big.session();
    const sessionId = client.sessionId;
    await client.call(
      "process/start",
      startParams("big", argv, dir.uri, { env: CHILD_PATH, pipeStdin: true }),
    );
    const log = new Reassembly();
    for (let round = 0; round < 20; round++) {
      for (const [seq, bytes] of await catchUp(client, "big", log.contiguous())) log.add(seq, bytes);
      const before = log.contiguous();
      await client.call("process/write", { processId: "big", chunk: b64("\n"), writeId: `go-${round}` });
      await client.waitFor("big", () => client.lastSeq("big") > before);
      client.ws.close();
      await client.closed;
      log.addEvents(client, "big");
      client = await resume(big, sessionId);
    }
    await using last = client;
    // Wait for closed: each long poll answers on a new event or on closed.
    let state =
      (await last.call("process/read", { processId: "big", afterSeq: 1_000_000_000 })) as ReadResult;
    while (!state.closed) {
      state = (await last.call("process/read", {
        processId: "big",
        afterSeq: state.nextSeq - 1,
        waitMs: 60_000,
      })) as ReadResult;
    }
    expect(state.droppedBytes).toBe(0);
    for (const [seq, bytes] of await catchUp(last, "big", log.contiguous())) log.add(seq, bytes);
    log.addEvents(last, "big");
    // Every seq before `closed` (the last) is a chunk but one: `exited`'s, which output still in the
    // pipes after its 25 ms wait may follow (§5.4; a busy machine shows it).
    const seqs = [...log.chunks.keys()].sort((a, b) => a - b);
    const closedSeq = state.nextSeq - 1;
    const notChunks = Array.from({ length: closedSeq - 1 }, (_, i) => i + 1).filter((seq) =>
      !log.chunks.has(seq)
    );
    expect([notChunks.length, (seqs.at(-1) ?? 0) < closedSeq]).toEqual([1, true]);
    const hash = createHash("sha256");
    for (const seq of seqs) hash.update(log.chunks.get(seq) ?? Buffer.alloc(0));
    const file = await readFile(join(dir.path, "out.bin"));
    expect(file.byteLength).toBe(20 * segment);
    expect(hash.digest("hex")).toBe(createHash("sha256").update(file).digest("hex"));
  }, 90_000);

  test.concurrent("a long poll pending when the transport ends never answers after a resume elsewhere", async () => {
    await using dir = await tempDir();
    await using raw = await RawSocket.upgrade(server().url);
    raw.send(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "raw" } }));
    raw.send(JSON.stringify({ method: "initialized", params: {} }));
    const init = await raw.waitForMessage((message) => message["id"] === 1);
    const sessionId = String((init["result"] as Record<string, unknown>)["sessionId"]);
    raw.send(
      JSON.stringify({
        id: 2,
        method: "process/start",
        params: startParams("lp", ["cat"], dir.uri, { pipeStdin: true }),
      }),
    );
    await raw.waitForMessage((message) => message["id"] === 2);
    raw.send(
      JSON.stringify({ id: 42, method: "process/read", params: { processId: "lp", waitMs: 600_000 } }),
    );
    // Our FIN: the server must treat the transport as gone (§3.6) though it could still write to us.
    raw.halfClose();
    await using successor = await resume(server(), sessionId);
    await successor.call("process/write", { processId: "lp", chunk: b64("after\n") });
    await successor.waitForOutput("lp", "after\n");
    await raw.ended;
    const answers = raw.messages().filter((message) => message["id"] === 42);
    expect(answers.every((answer) => answer["error"] !== undefined)).toBe(true);
    for (const answer of answers) {
      expect(answer["error"]).toEqual({
        code: -32600,
        message: "session has been resumed by another connection",
        data: { kind: "SessionResumed" },
      });
    }
    await successor.call("process/terminate", { processId: "lp" });
  });
});

describe.each(RUNTIMES)("session expiry on %s", (runtime) => {
  test.concurrent("session expiry kills the processes with their grandchildren and forgets the session", async () => {
    await using server = await startServer({ runtime, args: ["--session-ttl", "0.5"] });
    await using dir = await tempDir();
    const client = await server.session();
    const argv = ["sh", "-c", "sleep 300 & echo $!; wait"];
    await client.call("process/start", startParams("tree", argv, dir.uri, { env: CHILD_PATH }));
    await client.waitForOutput("tree", "\n");
    const grandchild = Number(client.outputText("tree").trim());
    const { processes } = (await client.call("process/list", {})) as { processes: { pid: number }[] };
    const leader = processes[0]?.pid ?? 0;
    expect([await isAlive(leader), await isAlive(grandchild)]).toEqual([true, true]);
    await client[Symbol.asyncDispose]();
    await waitUntilDead(leader);
    await waitUntilDead(grandchild);
    await using late = await server.connect();
    expect(await late.callError("initialize", { clientName: "late", resumeSessionId: client.sessionId }))
      .toEqual({
        code: -32600,
        message: `unknown session id ${client.sessionId}`,
        data: { kind: "UnknownSession" },
      });
  });
});

describe.each(RUNTIMES)("process retention on %s", (runtime) => {
  test.concurrent("a closed process is removed after the retention and its id is free again", async () => {
    await using server = await startServer({ runtime, args: ["--process-retention", "0.3"] });
    await using dir = await tempDir();
    await using client = await server.session();
    await client.call("process/start", startParams("brief", ["echo", "x"], dir.uri));
    await client.untilClosed("brief");
    expect(((await client.call("process/read", { processId: "brief" })) as ReadResult).closed).toBe(true);
    // Retention expiry is observable only by asking; each read answers at once.
    let error: ErrorReply | null = null;
    while (error === null) {
      const reply = await client.request("process/read", { processId: "brief" });
      if (reply["error"] !== undefined) error = reply["error"] as ErrorReply;
      else await new Promise<void>((resolve) => setTimeout(resolve, 25));
    }
    expect(error).toEqual({
      code: -32600,
      message: "unknown process id brief",
      data: { kind: "UnknownProcess" },
    });
    expect(await client.call("process/write", { processId: "brief", chunk: b64("x") })).toEqual({
      status: "unknownProcess",
    });
    expect(await client.call("process/terminate", { processId: "brief" })).toEqual({ running: false });
    expect(await client.call("process/list", {})).toEqual({ processes: [] });
    await client.call("process/start", startParams("brief", ["echo", "again"], dir.uri));
    await client.waitFor("brief", () => client.outputText("brief").includes("again"));
  });
});
