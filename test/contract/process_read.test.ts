import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { b64, CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

type ReadResult = {
  chunks: { seq: number; stream: string; chunk: string }[];
  nextSeq: number;
  exited: boolean;
  exitCode: number | null;
  closed: boolean;
  failure: string | null;
  sandboxDenied: boolean;
  droppedBytes: number;
  timedOut?: true;
};

const IDLE = {
  exited: false,
  exitCode: null,
  closed: false,
  failure: null,
  sandboxDenied: false,
  droppedBytes: 0,
};

describe.each(RUNTIMES)("process/read on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("process/read returns the whole log of a closed process and nextSeq past closed", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("r", ["echo", "hi"], dir.uri));
    const events = await client.untilClosed("r");
    // The chunk may follow the exit (§5.4); it has whatever seq the notification had.
    const outputSeq = events.find((event) => event.method === "process/output")?.seq;
    expect(await client.call("process/read", { processId: "r" })).toEqual({
      ...IDLE,
      chunks: [{ seq: outputSeq, stream: "stdout", chunk: b64("hi\n") }],
      nextSeq: 4,
      exited: true,
      exitCode: 0,
      closed: true,
    });
  });

  test.concurrent("process/read answers at once for a closed process despite waitMs", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("c", ["true"], dir.uri));
    await client.untilClosed("c");
    expect(await client.call("process/read", { processId: "c", afterSeq: 2, waitMs: 600_000 })).toEqual({
      ...IDLE,
      chunks: [],
      nextSeq: 3,
      exited: true,
      exitCode: 0,
      closed: true,
    });
  });

  test.concurrent("process/read long poll wakes on output", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("o", ["cat"], dir.uri, { pipeStdin: true }));
    const read = client.call("process/read", { processId: "o", afterSeq: 0, waitMs: 60_000 });
    await client.call("process/write", { processId: "o", chunk: b64("ping\n") });
    expect(await read).toEqual({
      ...IDLE,
      chunks: [{ seq: 1, stream: "stdout", chunk: b64("ping\n") }],
      nextSeq: 2,
    });
    await client.call("process/terminate", { processId: "o" });
  });

  test.concurrent("process/read long poll wakes on an unseen exit", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("x", ["sleep", "30"], dir.uri));
    const read = client.call("process/read", { processId: "x", afterSeq: 0, waitMs: 60_000 });
    await client.call("process/signal", { processId: "x", signal: "interrupt" });
    const result = (await read) as ReadResult;
    expect({ ...result, closed: false, nextSeq: 0 }).toEqual({
      ...IDLE,
      chunks: [],
      nextSeq: 0,
      exited: true,
      exitCode: 130,
    });
  });

  test.concurrent("process/read long poll wakes on close after a seen exit", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    // The background sleep keeps stdout open past the exit, so exited comes well before closed.
    const argv = ["sh", "-c", "sleep 30 & echo $!"];
    await client.call("process/start", startParams("hold", argv, dir.uri, { env: CHILD_PATH }));
    await client.waitFor("hold", (events) => events.some((event) => event.method === "process/exited"));
    const exitedSeq = client.lastSeq("hold");
    const read = client.call("process/read", { processId: "hold", afterSeq: exitedSeq, waitMs: 60_000 });
    await client.call("process/terminate", { processId: "hold" });
    const result = (await read) as ReadResult;
    expect([result.closed, result.exited, result.chunks]).toEqual([true, true, []]);
  });

  test.concurrent("process/read answers at its deadline with empty chunks", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("d", ["sleep", "30"], dir.uri));
    expect(await client.call("process/read", { processId: "d", waitMs: 50 })).toEqual({
      ...IDLE,
      chunks: [],
      nextSeq: 1,
    });
    await client.call("process/terminate", { processId: "d" });
  });

  test.concurrent("process/read without waitMs answers at once", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("now", ["sleep", "30"], dir.uri));
    expect(await client.call("process/read", { processId: "now" })).toEqual({
      ...IDLE,
      chunks: [],
      nextSeq: 1,
    });
    await client.call("process/terminate", { processId: "now" });
  });

  test.concurrent("process/read long poll does not delay other requests", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("slow", ["sleep", "30"], dir.uri));
    const read = client.call("process/read", { processId: "slow", waitMs: 60_000 });
    expect(await client.call("process/list", {})).toHaveProperty("processes");
    await client.call("process/terminate", { processId: "slow" });
    expect(((await read) as ReadResult).exited).toBe(true);
  });

  test.concurrent("process/read selects chunks by maxBytes and sets nextSeq after the last one", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("m", ["cat"], dir.uri, { pipeStdin: true }));
    for (const word of ["aaaaaa", "bbbbbb", "cccccc"]) {
      const seq = client.lastSeq("m");
      await client.call("process/write", { processId: "m", chunk: b64(word) });
      await client.waitFor("m", () => client.lastSeq("m") > seq);
    }
    const bySeq = client.events("m").map((event) => event.method === "process/output" ? event.text : "");
    expect(bySeq).toEqual(["aaaaaa", "bbbbbb", "cccccc"]);
    expect(await client.call("process/read", { processId: "m", maxBytes: 12 })).toEqual({
      ...IDLE,
      chunks: [{ seq: 1, stream: "stdout", chunk: b64("aaaaaa") }, {
        seq: 2,
        stream: "stdout",
        chunk: b64("bbbbbb"),
      }],
      nextSeq: 3,
    });
    expect(await client.call("process/read", { processId: "m", afterSeq: 2, maxBytes: 0 })).toEqual({
      ...IDLE,
      chunks: [{ seq: 3, stream: "stdout", chunk: b64("cccccc") }],
      nextSeq: 4,
    });
    expect(await client.call("process/read", { processId: "m", afterSeq: 3, maxBytes: 10 })).toEqual({
      ...IDLE,
      chunks: [],
      nextSeq: 4,
    });
    await client.call("process/terminate", { processId: "m" });
  });

  test.concurrent("process/read refuses an unknown id", async () => {
    await using client = await server().session();
    expect(await client.callError("process/read", { processId: "ghost" })).toEqual({
      code: -32600,
      message: "unknown process id ghost",
      data: { kind: "UnknownProcess" },
    });
  });

  test.concurrent("process/read does not see another session's processes", async () => {
    await using dir = await tempDir();
    await using owner = await server().session();
    await using other = await server().session();
    await owner.call("process/start", startParams("mine", ["true"], dir.uri));
    expect((await other.callError("process/read", { processId: "mine" })).message).toBe(
      "unknown process id mine",
    );
  });

  test.concurrent.each([
    ["a negative afterSeq", { afterSeq: -1 }],
    ["a fractional maxBytes", { maxBytes: 1.5 }],
    ["a string waitMs", { waitMs: "10" }],
  ])("process/read refuses %s", async (_name, params) => {
    await using client = await server().session();
    const error = await client.callError("process/read", { processId: "x", ...params });
    expect([error.code, error.data]).toEqual([-32602, { kind: "InvalidParams" }]);
  });

  test.concurrent("process/output notifications carry every byte of 10 MB without gaps", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const file = join(dir.path, "data.bin");
    const argv = ["sh", "-c", `head -c 10485760 /dev/urandom > "${file}" && cat "${file}"`];
    await client.call("process/start", startParams("big", argv, dir.uri, { env: CHILD_PATH }));
    const events = await client.untilClosed("big");
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    const hash = createHash("sha256");
    for (const event of events) {
      if (event.method === "process/output") hash.update(Buffer.from(event.text, "latin1"));
    }
    expect(hash.digest("hex")).toBe(createHash("sha256").update(await readFile(file)).digest("hex"));
  }, 30_000);
});

describe.each(RUNTIMES)("process/read retention on %s", (runtime) => {
  test.concurrent("process/read reports droppedBytes when output overflows the retention bound", async () => {
    await using server = await startServer({ runtime, args: ["--retained-output-bytes", "4096"] });
    await using dir = await tempDir();
    await using client = await server.session();
    // The final "end" is written after the flood has been seen, so it is a small chunk of its own
    // that fits the bound whatever size the flood's chunks had.
    const argv = ["sh", "-c", "head -c 102400 /dev/zero; read x; printf end"];
    await client.call(
      "process/start",
      startParams("flood", argv, dir.uri, { env: CHILD_PATH, pipeStdin: true }),
    );
    await client.waitFor("flood", () => client.outputText("flood").length === 102_400);
    await client.call("process/write", { processId: "flood", chunk: b64("\n") });
    await client.untilClosed("flood");
    const result = (await client.call("process/read", { processId: "flood" })) as ReadResult;
    const retained = result.chunks.reduce(
      (sum, chunk) => sum + Buffer.from(chunk.chunk, "base64").byteLength,
      0,
    );
    expect(result.droppedBytes).toBeGreaterThan(0);
    expect(result.droppedBytes + retained).toBe(102_403);
    expect(retained).toBeLessThanOrEqual(4096);
    expect(result.chunks[0]?.seq ?? 0).toBeGreaterThan(1);
    expect(Buffer.from(result.chunks.at(-1)?.chunk ?? "", "base64").toString()).toBe("end");
    expect([result.exited, result.closed, result.exitCode]).toEqual([true, true, 0]);
  });
});
