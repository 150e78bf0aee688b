import { describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { TestClient } from "../helpers/client.ts";
import { RawSocket } from "../helpers/raw_socket.ts";
import { runServer } from "../helpers/run_servers.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { b64, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe.each(RUNTIMES)("limits on %s", (runtime) => {
  test.concurrent("a message above --max-message-bytes closes the connection with 1009", async () => {
    await using server = await startServer({ runtime, args: ["--max-message-bytes", "1024"] });
    await using client = await server.session();
    client.send({ id: 1, method: "process/list", params: { padding: "x".repeat(2048) } });
    expect((await client.closed).code).toBe(1009);
  });

  test("a message as large as the maxMessageBytes the server advertises is taken, one byte more is not", async () => {
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    await using client = await TestClient.connect(server.url);
    const info = await client.initialize();
    const limit = Number(
      (info["environmentInfo"] as { extensions: { limits: { maxMessageBytes: number } } }).extensions.limits
        .maxMessageBytes,
    );
    // An fs/writeFile of as much base64 as fits, then spaces after the JSON up to the limit.
    const message = (id: string, total: number): string => {
      const head = JSON.stringify({
        id,
        method: "fs/writeFile",
        params: { path: join(dir.path, "big"), dataBase64: "" },
      });
      const data = "A".repeat(Math.floor((total - head.length) / 4) * 4);
      const text = head.replace('"dataBase64":""', `"dataBase64":"${data}"`);
      return text + " ".repeat(total - text.length);
    };
    client.send(message("at-limit", limit));
    const closedFirst = client.closed.then((event) => ({ closedWith: event.code }));
    expect(await Promise.race([client.replyTo("at-limit"), closedFirst])).toEqual({
      id: "at-limit",
      result: {},
    });
    client.send(message("over-limit", limit + 1));
    await client.closed;
  });

  test.concurrent("request ids in flight past --max-message-bytes characters are refused with -32001", async () => {
    // A long poll keeps its id for its reply for up to an hour: without a bound on the ids, a
    // connection kept twice what it sent, up to --max-inflight-requests whole messages.
    await using server = await startServer({ runtime, args: ["--max-message-bytes", "65536"] });
    await using dir = await tempDir();
    await using client = await server.session();
    await client.call("process/start", startParams("s", ["sleep", "30"], dir.uri, { timeoutMs: 500 }));
    const id = (name: string): string => name + "x".repeat(30_000);
    client.send({ id: id("a"), method: "process/read", params: { processId: "s", waitMs: 60_000 } });
    client.send({ id: id("b"), method: "process/read", params: { processId: "s", waitMs: 60_000 } });
    client.send({ id: id("c"), method: "process/list", params: {} });
    expect((await client.replyTo(id("c")))["error"]).toEqual({
      code: -32001,
      message: "request ids in flight take more than 65536 characters",
      data: { kind: "LimitReached" },
    });
    expect([(await client.replyTo(id("a")))["result"], (await client.replyTo(id("b")))["result"]]).toEqual([
      expect.objectContaining({ exited: true, timedOut: true }),
      expect.objectContaining({ exited: true, timedOut: true }),
    ]);
    expect((await client.request("process/list", {}, id("d")))["result"]).toHaveProperty("processes");
  });

  test.concurrent("requests beyond --max-inflight-requests are refused with -32001", async () => {
    await using server = await startServer({ runtime, args: ["--max-inflight-requests", "2"] });
    await using dir = await tempDir();
    await using client = await server.session();
    // The timeout ends the long polls without another request, since every slot is taken.
    await client.call("process/start", startParams("s", ["sleep", "30"], dir.uri, { timeoutMs: 500 }));
    client.send({ id: "a", method: "process/read", params: { processId: "s", waitMs: 60_000 } });
    client.send({ id: "b", method: "process/read", params: { processId: "s", waitMs: 60_000 } });
    client.send({ id: "c", method: "process/list", params: {} });
    expect((await client.replyTo("c"))["error"]).toEqual({
      code: -32001,
      message: "too many requests in flight: limit is 2",
      data: { kind: "LimitReached" },
    });
    expect([(await client.replyTo("a"))["result"], (await client.replyTo("b"))["result"]]).toEqual([
      expect.objectContaining({ exited: true, timedOut: true }),
      expect.objectContaining({ exited: true, timedOut: true }),
    ]);
    expect(await client.call("process/list", {})).toHaveProperty("processes");
  });

  test.concurrent("initialize beyond --max-sessions is refused with -32001", async () => {
    await using server = await startServer({ runtime, args: ["--max-sessions", "1"] });
    await using first = await server.session();
    await using second = await server.connect();
    expect(await second.callError("initialize", { clientName: "second" })).toEqual({
      code: -32001,
      message: "too many sessions: limit is 1",
      data: { kind: "LimitReached" },
    });
    expect(first.sessionId).not.toBe("");
  });

  test.concurrent("process/start beyond --max-processes-per-session is refused with -32001", async () => {
    await using server = await startServer({ runtime, args: ["--max-processes-per-session", "1"] });
    await using dir = await tempDir();
    await using client = await server.session();
    await client.call("process/start", startParams("one", ["sleep", "30"], dir.uri));
    expect(await client.callError("process/start", startParams("two", ["true"], dir.uri))).toEqual({
      code: -32001,
      message: "too many running processes in this session: limit is 1",
      data: { kind: "LimitReached" },
    });
    await client.call("process/terminate", { processId: "one" });
    await client.untilClosed("one");
    await client.call("process/start", startParams("two", ["true"], dir.uri));
  });

  test.concurrent("a process whose descendant keeps its output open still counts against the limits", async () => {
    await using server = await startServer({
      runtime,
      args: ["--max-processes-per-session", "1", "--max-processes", "2"],
    });
    await using dir = await tempDir();
    await using client = await server.session();
    await using other = await server.session();
    await using third = await server.session();
    // The command exits at once; the descendant holds stdout, so the process stays exited, not
    // closed, and keeps its pipes and its tree: starting more such processes would bypass both limits.
    await client.call("process/start", startParams("lingers", ["sh", "-c", "sleep 30 & exit 0"], dir.uri));
    await client.waitFor("lingers", (events) => events.some((event) => event.method === "process/exited"));
    await other.call("process/start", startParams("two", ["sleep", "30"], dir.uri));
    const refused = [
      await client.callError("process/start", startParams("again", ["true"], dir.uri)),
      await third.callError("process/start", startParams("three", ["true"], dir.uri)),
    ];
    await client.call("process/terminate", { processId: "lingers" });
    await client.untilClosed("lingers");
    await client.call("process/start", startParams("after", ["true"], dir.uri));
    await other.call("process/terminate", { processId: "two" });
    expect(refused.map((error) => error.message)).toEqual([
      "too many running processes in this session: limit is 1",
      "too many running processes: limit is 2",
    ]);
  });

  test.concurrent("process/start beyond --max-processes is refused with -32001", async () => {
    await using server = await startServer({ runtime, args: ["--max-processes", "1"] });
    await using dir = await tempDir();
    await using first = await server.session();
    await using second = await server.session();
    await first.call("process/start", startParams("one", ["sleep", "30"], dir.uri));
    expect(await second.callError("process/start", startParams("two", ["true"], dir.uri))).toEqual({
      code: -32001,
      message: "too many running processes: limit is 1",
      data: { kind: "LimitReached" },
    });
    await first.call("process/terminate", { processId: "one" });
  });

  test.concurrent("a reply above --max-reply-bytes is refused with -32001, in text and in binary frames", async () => {
    // A client's WebSocket would end the connection at a message over its own limit (§2.8).
    await using server = await startServer({ runtime, args: ["--max-reply-bytes", "100000"] });
    await using dir = await tempDir();
    const file = (name: string, bytes: number) => {
      const path = join(dir.path, name);
      return writeFile(path, Buffer.alloc(bytes, 7)).then(() => pathToUri(path));
    };
    // 70,000 bytes are 93,336 characters of base64; 80,000 are 106,668; 110,000 pass the limit raw.
    const [fits, textTooLarge, tooLarge] = await Promise.all([
      file("fits", 70_000),
      file("text-too-large", 80_000),
      file("too-large", 110_000),
    ]);
    await using text = await server.session();
    expect(await text.call("fs/readFile", { path: fits })).toEqual({
      dataBase64: Buffer.alloc(70_000, 7).toString("base64"),
    });
    const refused = await text.callError("fs/readFile", { path: textTooLarge });
    expect(refused).toEqual({
      code: -32001,
      message: expect.stringMatching(
        /^fs\/readFile reply of 1067\d\d bytes is over the reply limit of 100000 bytes; read the file in blocks with fs\/open$/,
      ),
      data: { kind: "LimitReached" },
    });
    expect(await text.call("fs/readFile", { path: fits })).toHaveProperty("dataBase64");

    await using binary = await server.connect();
    await binary.initialize(undefined, { binaryFrames: true });
    expect(await binary.call("fs/readFile", { path: textTooLarge })).toEqual({
      dataBase64: Buffer.alloc(80_000, 7).toString("base64"),
    });
    expect(await binary.callError("fs/readFile", { path: tooLarge })).toEqual({
      code: -32001,
      message: expect.stringMatching(
        /^fs\/readFile reply of 1100\d\d bytes is over the reply limit of 100000 bytes/,
      ),
      data: { kind: "LimitReached" },
    });

    // A process's retained output read at once passes the limit too; in pages it does not (a
    // chunk holds at most 64 KiB, 87,384 characters of base64).
    await text.call("process/start", startParams("p", ["head", "-c", "120000", "/dev/zero"], dir.uri));
    await text.untilClosed("p");
    expect(await text.callError("process/read", { processId: "p" })).toEqual({
      code: -32001,
      message: expect.stringMatching(
        /^process\/read reply of 1\d{5} bytes is over the reply limit of 100000 bytes; read it in pages with maxBytes$/,
      ),
      data: { kind: "LimitReached" },
    });
    expect(await text.call("process/read", { processId: "p", maxBytes: 65_536 })).toHaveProperty("chunks");
  });

  test.concurrent("process/start refuses argv and env above 1 MiB", async () => {
    const server = await runServer(runtime);
    await using dir = await tempDir();
    await using client = await server.session();
    const params = startParams("huge", ["true", "x".repeat(1_048_576)], dir.uri);
    expect(await client.callError("process/start", params)).toEqual({
      code: -32602,
      message: "argv and env exceed 1048576 bytes",
      data: { kind: "InvalidParams" },
    });
  });

  test("an upgrade past --max-connections is answered 503; a connection that ends gives its slot back", async () => {
    await using server = await startServer({ runtime, args: ["--max-connections", "2"] });
    const connections = async (): Promise<number> => {
      const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
      return Number(/^exec_server_connections (\d+)$/m.exec(text)?.[1] ?? "-1");
    };
    // One connection with a session and one without: both hold a slot (each may hold a message
    // of up to --max-message-bytes in the runtime).
    await using first = await server.session();
    const second = await RawSocket.upgrade(server.url);
    expect(second.head.status).toBe(101);
    await using third = await RawSocket.upgrade(server.url);
    expect(third.head.status).toBe(503);
    expect(third.head.headers["retry-after"]).toBe("1");
    expect(await connections()).toBe(2);
    await second[Symbol.asyncDispose]();
    // The slot comes back once the server has seen the socket end.
    while (await connections() !== 1) {
      // Each /metrics round trip yields to the event loop; the count only falls.
    }
    await using fourth = await server.session();
    expect(await fourth.call("process/list", {})).toEqual({ processes: [] });
    expect(await first.call("process/list", {})).toEqual({ processes: [] });
  });

  test("a write sent again after as many writes as may be in flight is still applied once", async () => {
    // With --max-inflight-requests above 1,024, more writes than that may be unanswered when a
    // connection is lost, and the client sends every one again: the server must remember them all.
    const writes = 1_100;
    await using server = await startServer({ runtime, args: ["--max-inflight-requests", "2048"] });
    await using dir = await tempDir();
    await using client = await server.session();
    await client.call("process/start", startParams("count", ["wc", "-c"], dir.uri, { pipeStdin: true }));
    for (let i = 0; i < writes; i++) {
      client.send({
        id: `w${i}`,
        method: "process/write",
        params: { processId: "count", chunk: b64("x"), writeId: `w${i}` },
      });
    }
    client.send({
      id: "again",
      method: "process/write",
      params: { processId: "count", chunk: b64("x"), writeId: "w0" },
    });
    expect((await client.replyTo("again"))["result"]).toEqual({ status: "accepted" });
    for (let i = 0; i < writes; i++) await client.replyTo(`w${i}`);
    await client.call("process/closeStdin", { processId: "count" });
    await client.untilClosed("count");
    expect(client.outputText("count").trim()).toBe(String(writes));
  });
  test("long polls waiting past --max-waiting-polls are refused with -32001 beyond a session's share", async () => {
    // Each waiting poll holds 5-8 KB of the server, and a connection may have 1,024 in flight: 48
    // sessions of them took 250-335 MiB, and --max-sessions of them several GB.
    await using server = await startServer({ runtime, args: ["--max-waiting-polls", "8"] });
    await using dir = await tempDir();
    await using greedy = await server.session();
    await greedy.call("process/start", startParams("quiet", ["sleep", "60"], dir.uri));
    const poll = (client: TestClient, processId: string) =>
      client.request("process/read", { processId, waitMs: 600_000 });
    const parked = Array.from({ length: 8 }, () => poll(greedy, "quiet"));
    await greedy.call("process/list", {});
    const ninth = await poll(greedy, "quiet");
    await using other = await server.session();
    await other.call("process/start", startParams("echo", ["cat"], dir.uri, { pipeStdin: true }));
    const mine = poll(other, "echo");
    await other.call("process/list", {});
    await other.call("process/write", { processId: "echo", chunk: b64("hi\n") });
    const answered = (await mine)["result"] as { chunks: Array<{ chunk: string }> };
    await greedy.call("process/terminate", { processId: "quiet" });
    const closed = await Promise.all(parked);
    await other.call("process/terminate", { processId: "echo" });
    expect({
      ninth: ninth["error"],
      other: atob(answered.chunks[0]?.chunk ?? ""),
      closed: closed.map((reply) => (reply["result"] as { closed: boolean }).closed),
    }).toEqual({
      ninth: {
        code: -32001,
        message: "too many long polls waiting: limit is 8 (8 wait now)",
        data: { kind: "LimitReached" },
      },
      other: "hi\n",
      closed: Array(8).fill(true),
    });
  });
});
