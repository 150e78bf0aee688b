import { describe, expect, test } from "bun:test";
import { RUNTIMES } from "../helpers/server.ts";
import { encodeFrame, RawSocket } from "../helpers/raw_socket.ts";
import { CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const PARSE_PREFIX =
  /^failed to parse websocket JSON-RPC message from exec-server websocket 127\.0\.0\.1:\d+: /;
const CAPABILITY_FLAGS = [
  "networkProxyLaunch",
  "networkProxyReviewDomains",
  "credentialMasking",
  "credentialMaskingCustomProviders",
  "capabilityDiscoverySandbox",
  "fsWatchMissing",
  "capabilityDiscoveryV2",
  "environmentConfigRead",
  "httpHeaderEnvVars",
  "sandboxedFileStreaming",
  "fileWriteStreaming",
  "shellSnapshotV2",
  "windowsMxc",
  "linuxRootWritePreservesDevices",
  "linuxApprovedRootWritePreservesRestrictions",
];

/** Splits a parse-error reply into its fixed parts and the detail after the websocket prefix. */
function parseErrorParts(
  reply: Record<string, unknown>,
): { id: unknown; code: unknown; kind: unknown; detail: string } {
  const error = reply["error"] as { code: number; message: string; data?: { kind: string } };
  expect(error.message).toMatch(PARSE_PREFIX);
  return {
    id: reply["id"],
    code: error.code,
    kind: error.data?.kind,
    detail: error.message.replace(PARSE_PREFIX, ""),
  };
}

describe.each(RUNTIMES)("handshake on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("an undecodable message before ready is answered in its turn, after the requests before it", async () => {
    await using raw = await RawSocket.upgrade(server().url);
    // One burst: initialize, a request before initialized, a binary message that is not UTF-8
    // (§2.5), then the rest of the handshake and a request once ready. Everything up to
    // `initialized` is held and handled one after another whichever reads the burst comes in; what
    // follows `initialized` is answered in any order, so the burst ends with one request that is
    // dispatched after the parse error went out.
    raw.send(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "order" } }));
    raw.send(JSON.stringify({ id: 2, method: "process/list", params: {} }));
    raw.send(Uint8Array.of(0xff));
    raw.send(JSON.stringify({ method: "initialized", params: {} }));
    raw.send(JSON.stringify({ id: 3, method: "process/list", params: {} }));
    await raw.waitForMessage((message) => message["id"] === 3);
    const order = raw.messages().map((message) =>
      message["id"] === -1
        ? "parse error"
        : [message["id"], (message["error"] as { data?: { kind?: string } })?.data?.kind ?? "ok"]
    );
    expect(order).toEqual([[1, "ok"], [2, "NotInitialized"], "parse error", [3, "ok"]]);
  });

  test.concurrent.each([
    ["process/list", {}, "exec"],
    ["fs/readFile", { path: "/nonexistent" }, "filesystem"],
    ["environment/info", null, "environment info"],
  ])("%s before initialize is refused naming its family", async (method, params, family) => {
    await using client = await server().connect();
    expect(await client.callError(method, params)).toEqual({
      code: -32600,
      message: `client must call initialize before using ${family} methods`,
      data: { kind: "NotInitialized" },
    });
  });

  test.concurrent.each([
    ["process/list", {}, "exec"],
    ["fs/readFile", { path: "/nonexistent" }, "filesystem"],
    ["environment/info", null, "environment info"],
  ])("%s before initialized is refused naming its family", async (method, params, family) => {
    await using client = await server().connect();
    await client.call("initialize", { clientName: "test" });
    expect(await client.callError(method, params)).toEqual({
      code: -32600,
      message: `client must send initialized before using ${family} methods`,
      data: { kind: "NotInitialized" },
    });
  });

  test.concurrent("initialize returns a UUID v4 session id and the environment info", async () => {
    await using client = await server().connect();
    const result = await client.call("initialize", { clientName: "test" });
    expect(String(result["sessionId"])).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const info = result["environmentInfo"] as Record<string, unknown>;
    const extensions = info["extensions"] as Record<string, unknown>;
    expect(extensions["runtime"]).toBe(runtime);
    expect(extensions["methods"]).toEqual(["process/resize", "process/closeStdin", "process/list"]);
    expect(info["capabilities"]).toEqual(Object.fromEntries(CAPABILITY_FLAGS.map((flag) => [flag, false])));
    expect([info["platformOs"], info["prependPathDirs"], info["temporaryDirectories"]]).toEqual([
      "linux",
      [],
      [],
    ]);
  });

  test.concurrent("initialize gives each connection a different session", async () => {
    await using first = await server().session();
    await using second = await server().session();
    expect(first.sessionId).not.toBe(second.sessionId);
  });

  test.concurrent("environment/info returns the environment info of initialize", async () => {
    await using client = await server().connect();
    const result = await client.call("initialize", { clientName: "test" });
    client.send({ method: "initialized", params: {} });
    expect(await client.call("environment/info", null)).toEqual(
      result["environmentInfo"] as Record<string, unknown>,
    );
  });

  test.concurrent("initialize is refused when sent twice before initialized", async () => {
    await using client = await server().connect();
    await client.call("initialize", { clientName: "test" });
    expect(await client.callError("initialize", { clientName: "test" })).toEqual({
      code: -32600,
      message: "initialize may only be sent once per connection",
      data: { kind: "AlreadyInitialized" },
    });
  });

  test.concurrent("initialize is refused when sent again after initialized", async () => {
    await using client = await server().session();
    expect(await client.callError("initialize", { clientName: "test" })).toEqual({
      code: -32600,
      message: "initialize may only be sent once per connection",
      data: { kind: "AlreadyInitialized" },
    });
  });

  test.concurrent("initialize without params is invalid params and leaves the connection new", async () => {
    await using client = await server().connect();
    const error = await client.callError("initialize");
    expect([error.code, error.data]).toEqual([-32602, { kind: "InvalidParams" }]);
    await client.initialize();
    expect(await client.call("process/list", {})).toEqual({ processes: [] });
  });

  test.concurrent("initialized before initialize closes the connection with 1008", async () => {
    await using client = await server().connect();
    client.send({ method: "initialized", params: {} });
    expect((await client.closed).code).toBe(1008);
  });

  test.concurrent("an unknown notification closes the connection with 1008", async () => {
    await using client = await server().session();
    client.send({ method: "process/bogus", params: {} });
    expect((await client.closed).code).toBe(1008);
  });

  test.concurrent("a client response closes the connection with 1008", async () => {
    await using client = await server().session();
    client.send({ id: 1, result: {} });
    expect((await client.closed).code).toBe(1008);
  });

  test.concurrent("a client error object closes the connection with 1008", async () => {
    await using client = await server().connect();
    client.send({ id: 1, error: { code: 1, message: "x" } });
    expect((await client.closed).code).toBe(1008);
  });

  test.concurrent("a second initialized is ignored", async () => {
    await using client = await server().session();
    client.send({ method: "initialized", params: {} });
    expect(await client.call("process/list", null)).toEqual({ processes: [] });
  });

  test.concurrent("a pipelined initialize, initialized and request all succeed", async () => {
    await using client = await server().connect();
    client.send({ id: 1, method: "initialize", params: { clientName: "pipelined" } });
    client.send({ method: "initialized", params: {} });
    client.send({ id: 2, method: "process/list", params: {} });
    expect((await client.replyTo(2))["result"]).toEqual({ processes: [] });
    expect((await client.replyTo(1))["result"]).toHaveProperty("sessionId");
  });
});

describe.each(RUNTIMES)("envelope on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("invalid JSON is answered with id -1, -32600 and the websocket prefix", async () => {
    await using client = await server().connect();
    client.send("{nope");
    const parts = parseErrorParts(await client.replyTo(-1));
    expect({ ...parts, detail: parts.detail.startsWith("invalid JSON") }).toEqual({
      id: -1,
      code: -32600,
      kind: "ParseError",
      detail: true,
    });
  });

  test.concurrent.each([
    ["a batch", '[{"id":1,"method":"initialize","params":{"clientName":"x"}}]', "batches are not supported"],
    ["a non-object", "42", "expected a JSON-RPC object"],
    ["a fractional id", '{"id":1.5,"method":"initialize"}', "id must be a string or an integer"],
    ["an id written as 1.0", '{"id":1.0,"method":"initialize"}', "id must be a string or an integer"],
    ["an id written as 1e2", '{"id":1e2,"method":"initialize"}', "id must be a string or an integer"],
    ["a boolean id", '{"id":true,"method":"initialize"}', "id must be a string or an integer"],
    ["a null id", '{"id":null,"method":"initialize"}', "id must be a string or an integer"],
    [
      "an out-of-range id",
      '{"id":9007199254740992,"method":"initialize"}',
      "id must be a string or an integer",
    ],
  ])("%s is a parse error that keeps the connection open", async (_name, text, detail) => {
    await using client = await server().connect();
    client.send(text);
    expect(parseErrorParts(await client.replyTo(-1))).toEqual({
      id: -1,
      code: -32600,
      kind: "ParseError",
      detail,
    });
    await client.initialize();
    expect(await client.call("process/list", {})).toEqual({ processes: [] });
  });

  test.concurrent("a binary frame that is not UTF-8 is a parse error", async () => {
    await using client = await server().connect();
    client.sendBinary(new Uint8Array([0x7b, 0xff, 0x7d]));
    const parts = parseErrorParts(await client.replyTo(-1));
    expect([parts.id, parts.code, parts.kind]).toEqual([-1, -32600, "ParseError"]);
  });

  test.concurrent("a binary frame carrying JSON is accepted", async () => {
    await using client = await server().connect();
    client.sendBinary(
      new TextEncoder().encode(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "b" } })),
    );
    expect((await client.replyTo(1))["result"]).toHaveProperty("sessionId");
  });

  test.concurrent("a text frame that is not UTF-8 closes the connection (1007 where the runtime allows)", async () => {
    await using socket = await RawSocket.upgrade(server().url);
    expect(socket.head.status).toBe(101);
    socket.sendFrame(1, new Uint8Array([0x7b, 0xff, 0x7d]));
    await socket.ended;
    // Deno's WebSocket validates UTF-8 below the server and drops the TCP connection without a
    // Close frame; no API lets the server answer 1007 there (a known deviation from §1.5).
    expect(socket.closeCode()).toBe(runtime === "bun" ? 1007 : null);
    await using client = await server().session();
    expect(await client.call("process/list", {})).toEqual({ processes: [] });
  });

  test.concurrent("a burst of requests before initialize is answered in order, each -32600", async () => {
    await using socket = await RawSocket.upgrade(server().url);
    const count = 3000;
    // One write: the burst reaches the server together, as a pipelining client's would.
    socket.socket.write(
      Buffer.concat(
        Array.from(
          { length: count },
          (_, id) => encodeFrame(1, Buffer.from(JSON.stringify({ id, method: "process/list", params: {} }))),
        ),
      ),
    );
    await socket.waitForMessage((message) => message["id"] === count - 1);
    const replies = socket.messages();
    expect(replies.map((reply) => reply["id"])).toEqual(Array.from({ length: count }, (_, id) => id));
    expect(new Set(replies.map((reply) => JSON.stringify(reply["error"])))).toEqual(
      new Set([JSON.stringify({
        code: -32600,
        message: "client must call initialize before using exec methods",
        data: { kind: "NotInitialized" },
      })]),
    );
    expect(socket.closeCode()).toBeNull();
  });

  test.concurrent("the server sends text frames only", async () => {
    await using client = await server().session();
    await client.call("process/list", {});
    client.send("{bad");
    await client.replyTo(-1);
    expect(client.binaryFrames).toBe(0);
  });

  test.concurrent("a string id is echoed as a string and a number id as a number", async () => {
    await using client = await server().session();
    client.send({ id: "7", method: "process/list", params: {} });
    client.send({ id: 7, method: "process/list", params: {} });
    client.send({ id: -12, method: "process/list", params: {} });
    expect([
      (await client.replyTo("7"))["id"],
      (await client.replyTo(7))["id"],
      (await client.replyTo(-12))["id"],
    ])
      .toEqual(["7", 7, -12]);
  });

  test.concurrent("a client that sends jsonrpc gets jsonrpc 2.0 on every reply and notification", async () => {
    await using dir = await tempDir();
    await using client = await server().connect();
    client.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { clientName: "strict" } });
    client.send({ jsonrpc: "2.0", method: "initialized", params: {} });
    client.send({
      id: 2,
      method: "process/start",
      params: startParams("j", ["echo", "hi"], dir.uri, { env: CHILD_PATH }),
    });
    client.send({ id: 3, method: "no/such" });
    client.send("{bad");
    await client.untilClosed("j");
    await client.replyTo(3);
    await client.replyTo(-1);
    expect(client.messages.length).toBeGreaterThanOrEqual(7);
    expect(client.messages.filter((message) => message["jsonrpc"] !== "2.0")).toEqual([]);
  });

  test.concurrent("a client that sends no jsonrpc gets none", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("n", ["echo", "hi"], dir.uri, { env: CHILD_PATH }));
    client.send({ id: 3, method: "no/such" });
    client.send("{bad");
    await client.untilClosed("n");
    await client.replyTo(3);
    await client.replyTo(-1);
    expect(client.messages.filter((message) => "jsonrpc" in message)).toEqual([]);
  });

  test.concurrent("the first message that is not a parse error decides jsonrpc mirroring", async () => {
    await using client = await server().connect();
    client.send("{bad");
    client.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { clientName: "x" } });
    expect(await client.replyTo(1)).toHaveProperty("jsonrpc", "2.0");
    expect(await client.replyTo(-1)).not.toHaveProperty("jsonrpc");
  });

  test.concurrent("an unknown method is -32601 naming it", async () => {
    await using client = await server().session();
    expect(await client.callError("foo/bar", {})).toEqual({
      code: -32601,
      message: "unknown method foo/bar",
      data: { kind: "MethodNotFound" },
    });
  });

  test.concurrent("an unknown method is -32601 even before initialize", async () => {
    await using client = await server().connect();
    expect((await client.callError("environmentConfig/read", {})).code).toBe(-32601);
  });

  test.concurrent.each(["http/request", "fs/watchMissing"])("%s is not served", async (method) => {
    await using client = await server().session();
    expect(await client.callError(method, {})).toEqual({
      code: -32601,
      message: `unknown method ${method}`,
      data: { kind: "MethodNotFound" },
    });
  });

  test.concurrent.each([
    ["null", null],
    ["an array", []],
    ["a scalar", 5],
    ["absent", undefined],
  ])("params %s for process/read are invalid params", async (_name, params) => {
    await using client = await server().session();
    const error = await client.callError("process/read", params);
    expect([error.code, error.data, error.message.startsWith("invalid params for process/read: ")]).toEqual([
      -32602,
      { kind: "InvalidParams" },
      true,
    ]);
  });

  test.concurrent("a mistyped member is invalid params naming the member", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    expect(await client.callError("process/start", { ...startParams("t", ["true"], dir.uri), tty: "no" }))
      .toEqual({
        code: -32602,
        message: "invalid params for process/start: tty: expected boolean, got string",
        data: { kind: "InvalidParams" },
      });
  });

  test.concurrent("null params are accepted by process/list and environment/info", async () => {
    await using client = await server().session();
    expect(await client.call("process/list", null)).toEqual({ processes: [] });
    expect(await client.call("environment/info", null)).toHaveProperty("extensions");
  });

  test.concurrent("a request id in flight is refused for a second request and the first is unaffected", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("dup", ["sleep", "30"], dir.uri));
    client.send({ id: 99, method: "process/read", params: { processId: "dup", waitMs: 60_000 } });
    client.send({ id: 99, method: "process/list", params: {} });
    const [refused] = await client.repliesTo(99, 1);
    expect(refused).toEqual({
      id: 99,
      error: {
        code: -32600,
        message: "request id 99 is already in use",
        data: { kind: "DuplicateRequestId" },
      },
    });
    expect(await client.call("process/terminate", { processId: "dup" })).toEqual({ running: true });
    const [, longPoll] = await client.repliesTo(99, 2);
    expect((longPoll?.["result"] as Record<string, unknown>)["exited"]).toBe(true);
  });

  test.concurrent("a request id may be reused once answered", async () => {
    await using client = await server().session();
    expect((await client.request("process/list", {}, 5))["result"]).toEqual({ processes: [] });
    expect((await client.request("process/list", {}, 5))["result"]).toEqual({ processes: [] });
  });
});
