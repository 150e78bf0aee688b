import { describe, expect, test } from "bun:test";
import { RUNTIMES } from "../helpers/server.ts";
import { waitUntilDead } from "../helpers/proc.ts";
import { StdioServer } from "../helpers/stdio_server.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const PREFIX = "failed to parse JSON-RPC message from exec-server stdio: ";

describe.each(RUNTIMES)("stdio transport on %s", (runtime) => {
  test.concurrent("the stdio transport answers requests and streams notifications as lines", async () => {
    await using server = StdioServer.start(runtime);
    await using dir = await tempDir();
    const result = await server.initialize();
    expect(String(result["sessionId"])).toMatch(/^[0-9a-f-]{36}$/);
    server.send({ id: 2, method: "process/start", params: startParams("p", ["echo", "hi"], dir.uri) });
    expect((await server.replyTo(2))["result"]).toEqual({ processId: "p", sandboxType: "none" });
    await server.waitForMessage((message) => message["method"] === "process/closed");
    const notifications = server.messages().filter((message) => "method" in message);
    // Output read after the exit status is known comes after exited (§5.4): both orders are valid.
    const exitedFirst = notifications[0]?.["method"] === "process/exited";
    expect(notifications).toEqual([
      {
        method: "process/output",
        params: { processId: "p", seq: exitedFirst ? 2 : 1, stream: "stdout", chunk: "aGkK" },
      },
      {
        method: "process/exited",
        params: { processId: "p", seq: exitedFirst ? 1 : 2, exitCode: 0, sandboxDenied: false },
      },
      { method: "process/closed", params: { processId: "p", seq: 3 } },
    ].sort((a, b) => a.params.seq - b.params.seq));
  });

  test.concurrent("the stdio transport answers a parse error with id -1 and the stdio prefix", async () => {
    await using server = StdioServer.start(runtime);
    server.write("[1,2]\n");
    expect(await server.replyTo(-1)).toEqual({
      id: -1,
      error: { code: -32600, message: `${PREFIX}batches are not supported`, data: { kind: "ParseError" } },
    });
  });

  test.concurrent("the stdio transport reports invalid JSON with the stdio prefix and keeps going", async () => {
    await using server = StdioServer.start(runtime);
    server.write("{nope\n");
    const reply = await server.replyTo(-1);
    const error = reply["error"] as { code: number; message: string };
    expect([error.code, error.message.startsWith(`${PREFIX}invalid JSON`)]).toEqual([-32600, true]);
    expect(await server.initialize()).toHaveProperty("sessionId");
  });

  test.concurrent("the stdio transport strips a trailing CR and ignores blank lines", async () => {
    await using server = StdioServer.start(runtime);
    server.write("\n\r\n   \n");
    server.write(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "crlf" } }) + "\r\n");
    server.write('{"method":"initialized"}\r\n\r\n');
    server.write(JSON.stringify({ id: 2, method: "process/list", params: {} }) + "\r\n");
    expect((await server.replyTo(2))["result"]).toEqual({ processes: [] });
    expect(server.messages().filter((message) => message["id"] === -1)).toEqual([]);
  });

  test.concurrent("the stdio transport mirrors jsonrpc", async () => {
    await using server = StdioServer.start(runtime);
    server.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { clientName: "strict" } });
    expect(await server.replyTo(1)).toHaveProperty("jsonrpc", "2.0");
  });

  test.concurrent("end of stdin shuts the server down with 0 and kills its children", async () => {
    await using dir = await tempDir();
    const server = StdioServer.start(runtime);
    await server.initialize();
    const argv = ["sh", "-c", "sleep 300 & echo $!; wait"];
    server.send({
      id: 2,
      method: "process/start",
      params: startParams("tree", argv, dir.uri, { env: CHILD_PATH }),
    });
    const output = await server.waitForMessage((message) => message["method"] === "process/output");
    const chunk = String((output["params"] as Record<string, unknown>)["chunk"]);
    const grandchild = Number(Buffer.from(chunk, "base64").toString().trim());
    server.endInput();
    expect(await server.exited).toBe(0);
    await waitUntilDead(grandchild);
  });

  test.concurrent("a protocol violation on stdio ends the server", async () => {
    const server = StdioServer.start(runtime);
    server.send({ method: "initialized" });
    expect(await server.exited).toBe(0);
  });
});
