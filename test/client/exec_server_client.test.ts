import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { ClientError, ExecServerClient } from "../../src/client/mod.ts";
import { RpcError } from "../../src/protocol/mod.ts";
import { startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { rejectionOf } from "../helpers/rejection.ts";

const TOKEN = "client-test-token";

describe("ExecServerClient", () => {
  let server: TestServer | null = null;
  const url = (): string => {
    if (server === null) throw new Error("the server has not started");
    return server.url;
  };
  beforeAll(async () => {
    const digest = createHash("sha256").update(TOKEN).digest("hex");
    server = await startServer({
      runtime: "bun",
      args: ["--ws-auth", "capability-token", "--ws-token-sha256", digest],
    });
  });
  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
  });

  test("ExecServerClient presents its token as a subprotocol entry, which the server admits", async () => {
    await using client = await ExecServerClient.connect(url(), { token: TOKEN });
    expect(client.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(client.environmentInfo.extensions.server).toBe("exec-server");
  });

  test("ExecServerClient.connect fails with notConnected when the upgrade is refused", async () => {
    const error = await rejectionOf(ExecServerClient.connect(url(), { token: "wrong" }));
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ reason: "notConnected" });
  });

  test("ExecServerClient keeps an error reply's code, kind and errno", async () => {
    await using client = await ExecServerClient.connect(url(), { token: TOKEN });
    await using dir = await tempDir();
    const error = await rejectionOf(client.call("fs/readFile", { path: `${dir.path}/missing` }));
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: -32004, kind: "NotFound", errno: "ENOENT" });
  });

  test("ExecServerClient rejects a call with ClientError timeout when timeoutMs passes first", async () => {
    await using client = await ExecServerClient.connect(url(), { token: TOKEN });
    await using dir = await tempDir();
    await client.call("process/start", {
      processId: "slow",
      argv: ["sleep", "30"],
      cwd: dir.path,
      env: {},
      tty: false,
    });
    const error = await rejectionOf(
      client.call("process/read", { processId: "slow", waitMs: 30_000 }, { timeoutMs: 50 }),
    );
    expect(error).toMatchObject({ reason: "timeout", message: "process/read timed out after 50 ms" });
    expect(await client.call("process/terminate", { processId: "slow" })).toEqual({ running: true });
  });

  test("ExecServerClient rejects an aborted call with the signal's reason", async () => {
    await using client = await ExecServerClient.connect(url(), { token: TOKEN });
    const controller = new AbortController();
    const call = client.call("process/read", { processId: "none", waitMs: 30_000 }, {
      signal: controller.signal,
    });
    controller.abort(new Error("stop"));
    expect(await rejectionOf(call)).toEqual(new Error("stop"));
  });

  test("ExecServerClient rejects calls after close with notConnected", async () => {
    const client = await ExecServerClient.connect(url(), { token: TOKEN });
    await client.close();
    expect(await rejectionOf(client.call("process/list", {}))).toMatchObject({ reason: "notConnected" });
  });
});

describe("ExecServerClient and binary frames (§11.12)", () => {
  const server = sharedServer("bun");
  const url = (): string => server().url;

  test("ExecServerClient asks for binary frames by default and reads a file through them", async () => {
    await using dir = await tempDir();
    const bytes = new Uint8Array(200_000).map((_, index) => (index * 31) % 256);
    await Bun.write(`${dir.path}/f`, bytes);
    await using client = await ExecServerClient.connect(url());
    expect(client.binaryFrames).toBe(true);
    const { dataBase64 } = await client.call("fs/readFile", { path: `${dir.path}/f` });
    expect(dataBase64).toBe(Buffer.from(bytes).toString("base64"));
  });

  test("ExecServerClient with binaryFrames: false gets text and the same file", async () => {
    await using dir = await tempDir();
    await Bun.write(`${dir.path}/f`, "text");
    await using client = await ExecServerClient.connect(url(), { binaryFrames: false });
    expect(client.binaryFrames).toBe(false);
    expect(await client.call("fs/readFile", { path: `${dir.path}/f` })).toEqual({ dataBase64: "dGV4dA==" });
  });
});

describe("ExecServerClient and requests a server cannot take", () => {
  test("a request larger than the server's maxMessageBytes fails with tooLarge, unsent, and the session stays", async () => {
    await using server = await startServer({ runtime: "bun", args: ["--max-message-bytes", "4096"] });
    await using dir = await tempDir();
    await using client = await ExecServerClient.connect(server.url, { binaryFrames: false });
    const sessionId = client.sessionId;
    const error = await rejectionOf(
      client.call("fs/writeFile", { path: `${dir.path}/big`, dataBase64: "QUJD".repeat(2048) }),
    );
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ reason: "tooLarge" });
    expect(String((error as Error).message)).toMatch(
      /^fs\/writeFile request of \d+ bytes is over the server's message limit of 4096 bytes; it was not sent$/,
    );
    await client.call("fs/writeFile", { path: `${dir.path}/small`, dataBase64: "QUJD" });
    expect(client.sessionId).toBe(sessionId);
    expect(server.stderr()).not.toContain("connection closed");
  });

  test("a call whose connection is lost each time it is sent is not sent a fourth time", async () => {
    // A stand-in server: it answers initialize as an exec-server does, and ends the connection at
    // every fs/writeFile, as a server (or a proxy in front of it) does at a message it cannot take.
    await using real = await startServer({ runtime: "bun" });
    await using probe = await ExecServerClient.connect(real.url);
    const environmentInfo = probe.environmentInfo;
    let writes = 0;
    const standIn = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request, bunServer) =>
        bunServer.upgrade(request) ? undefined : new Response(null, { status: 400 }),
      websocket: {
        message(ws, text) {
          const message = JSON.parse(String(text)) as { id?: number; method: string };
          if (message.method === "initialize") {
            ws.send(JSON.stringify({ id: message.id, result: { sessionId: "stand-in", environmentInfo } }));
          } else if (message.method === "fs/writeFile") {
            writes++;
            ws.close(1009, "message too big");
          }
        },
      },
    });
    try {
      await using client = await ExecServerClient.connect(`ws://127.0.0.1:${standIn.port}`);
      const error = await rejectionOf(
        client.call("fs/writeFile", { path: "/nowhere/x", dataBase64: "QUJD" }),
      );
      expect(error).toMatchObject({
        reason: "connectionClosed",
        message: "the connection was lost 3 times with fs/writeFile in flight; it is not sent again",
      });
      expect(writes).toBe(3);
    } finally {
      await standIn.stop(true);
    }
  });
});
