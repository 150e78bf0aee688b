import { describe, expect, test } from "bun:test";
import { runServer } from "../helpers/run_servers.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe.each(RUNTIMES)("limits on %s", (runtime) => {
  test.concurrent("a message above --max-message-bytes closes the connection with 1009", async () => {
    await using server = await startServer({ runtime, args: ["--max-message-bytes", "1024"] });
    await using client = await server.session();
    client.send({ id: 1, method: "process/list", params: { padding: "x".repeat(2048) } });
    expect((await client.closed).code).toBe(1009);
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
});
