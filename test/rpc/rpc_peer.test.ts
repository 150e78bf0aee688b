import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { fromWireError, RpcError } from "../../src/protocol/mod.ts";
import { bindHandlers, RpcPeer, withRawBytes } from "../../src/rpc/mod.ts";
import type { InboundCall, RequestId } from "../../src/rpc/mod.ts";

const SHAPES = {
  "echo": { params: z.object({ text: z.string() }), result: z.object({ text: z.string() }) },
  "wait": { params: z.object({ key: z.string() }), result: z.object({}) },
  "bytes": { params: z.object({}), result: z.custom<Uint8Array>((value) => value instanceof Uint8Array) },
  "fail": { params: z.object({}), result: z.object({}) },
} as const;

/**
 * A serving peer alone, without `jsonrpc`: `echo` echoes, `wait` is `options.wait` (or answers at
 * once), the rest answer empty; `send` receives what it sends.
 */
function servingPeer(options: {
  send?: (text: string) => void;
  wait?: (
    params: { key: string },
    call: InboundCall,
  ) => Promise<Record<string, never>> | Record<string, never>;
  onReply?: (errorCode: number | null) => void;
  maxReplyBytes?: number;
}): RpcPeer<InboundCall> {
  return new RpcPeer<InboundCall>({
    transport: { send: options.send ?? (() => {}) },
    serve: {
      routes: bindHandlers(SHAPES, {
        echo: ({ text }) => ({ text }),
        wait: options.wait ?? (() => ({})),
        bytes: () => new Uint8Array(0),
        fail: () => ({}),
      }),
      context: (call) => call,
    },
    jsonrpc: false,
    log: () => {},
    remoteError: fromWireError,
    ...(options.onReply === undefined ? {} : { onReply: options.onReply }),
    ...(options.maxReplyBytes === undefined ? {} : { maxReplyBytes: options.maxReplyBytes }),
  });
}

/** A serving peer and a calling peer joined by in-memory transports; `sent` records the server's frames. */
function pair() {
  const gates = new Map<string, PromiseWithResolvers<void>>();
  const sent: string[] = [];
  const bytes: Array<[RequestId, Uint8Array]> = [];
  const order: string[] = [];
  let client: RpcPeer | null = null;
  const server = new RpcPeer<InboundCall>({
    transport: {
      send(text) {
        sent.push(text);
        order.push("reply");
        void client?.receive(text);
      },
      sendBytes(id, data) {
        bytes.push([id, data]);
        void client?.receiveValue({ id, result: data });
      },
    },
    serve: {
      routes: bindHandlers(SHAPES, {
        echo: ({ text }) => ({ text }),
        wait: async ({ key }, call) => {
          call.afterReply(() => order.push(`after ${key}`));
          const gate = Promise.withResolvers<void>();
          gates.set(key, gate);
          await Promise.race([
            gate.promise,
            new Promise((_, reject) =>
              call.signal.addEventListener("abort", () => reject(call.signal.reason))
            ),
          ]);
          return {};
        },
        bytes: () => new Uint8Array([1, 2, 3]),
        fail: () => {
          throw new RpcError(-32004, "NotFound", "No such file or directory (os error 2)", {
            errno: "ENOENT",
          });
        },
      }),
      context: (call) => call,
    },
    jsonrpc: "mirror",
    log: () => {},
    remoteError: fromWireError,
  });
  client = new RpcPeer({
    transport: { send: (text) => void server.receive(text) },
    jsonrpc: false,
    log: () => {},
    remoteError: fromWireError,
  });
  return { server, client, sent, bytes, order, open: (key: string) => gates.get(key)?.resolve() };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("RpcPeer", () => {
  test("RpcPeer matches replies to calls by id, whatever their order", async () => {
    const { client, open } = pair();
    const slow = client.call("wait", { key: "a" });
    const fast = client.call("echo", { text: "hi" });
    expect(await fast).toEqual({ text: "hi" });
    open("a");
    expect(await slow).toEqual({});
  });

  test("RpcPeer rejects a call with the RpcError of its error reply, code, kind and errno kept", async () => {
    const { client } = pair();
    const error = await errorOf(client.call("fail", {}));
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: -32004, kind: "NotFound", errno: "ENOENT" });
  });

  test("RpcPeer answers -32602 naming the member when params do not match the schema", async () => {
    const { client } = pair();
    expect(await errorOf(client.call("echo", { text: 5 }))).toMatchObject({
      code: -32602,
      message: "invalid params for echo: text: expected string, got number",
    });
  });

  test("RpcPeer answers -32601 for a method it does not serve", async () => {
    const { client } = pair();
    expect(await errorOf(client.call("nope", {}))).toMatchObject({
      code: -32601,
      message: "unknown method nope",
    });
  });

  test("RpcPeer rejects an aborted call with the abort reason", async () => {
    const { client, open } = pair();
    const controller = new AbortController();
    const call = client.call("wait", { key: "b" }, controller.signal);
    controller.abort(new Error("gave up"));
    expect(await errorOf(call)).toEqual(new Error("gave up"));
    open("b");
    expect(await client.call("echo", { text: "still" })).toEqual({ text: "still" });
  });

  test("RpcPeer close rejects pending calls with its reason and later calls too", async () => {
    const { client } = pair();
    const pending = client.call("wait", { key: "c" });
    client.close(new Error("transport lost"));
    expect(await errorOf(pending)).toEqual(new Error("transport lost"));
    expect(await errorOf(client.call("echo", { text: "x" }))).toEqual(new Error("transport lost"));
  });

  test("RpcPeer close aborts the requests it serves and drops their replies", async () => {
    const { server, client, sent } = pair();
    void client.call("wait", { key: "d" });
    await Promise.resolve();
    server.close(new Error("gone"));
    await server.idle();
    expect(sent).toEqual([]);
  });

  test("RpcPeer hands a handler that looks at its signal only after an abort the aborted signal", async () => {
    const aborted = Promise.withResolvers<AbortSignal>();
    const gate = Promise.withResolvers<void>();
    const server = servingPeer({
      wait: async (_params, call) => {
        await gate.promise;
        aborted.resolve(call.signal);
        return {};
      },
    });
    void server.receive(JSON.stringify({ id: 1, method: "wait", params: { key: "late" } }));
    server.abortInbound(new Error("withdrawn"));
    gate.resolve();
    const signal = await aborted.promise;
    expect({ aborted: signal.aborted, reason: signal.reason }).toEqual({
      aborted: true,
      reason: new Error("withdrawn"),
    });
  });

  test("RpcPeer sends -32001 in place of a reply over maxReplyBytes, and the reply that fits", async () => {
    const sent: string[] = [];
    const counted: Array<number | null> = [];
    const server = servingPeer({
      send: (text) => void sent.push(text),
      onReply: (code) => void counted.push(code),
      maxReplyBytes: 69,
    });
    await server.receive(JSON.stringify({ id: 1, method: "echo", params: { text: "x".repeat(40) } }));
    await server.receive(JSON.stringify({ id: 2, method: "echo", params: { text: "x".repeat(41) } }));
    expect(sent.map((text) => JSON.parse(text))).toEqual([
      { id: 1, result: { text: "x".repeat(40) } },
      {
        id: 2,
        error: {
          code: -32001,
          message: "echo reply of 70 bytes is over the reply limit of 69 bytes",
          data: { kind: "LimitReached" },
        },
      },
    ]);
    expect(counted).toEqual([null, -32001]);
  });

  test("RpcPeer answers -32600 DuplicateRequestId for an id still in flight", async () => {
    const { server, sent, open } = pair();
    void server.receive('{"id":7,"method":"wait","params":{"key":"e"}}');
    await server.receive('{"id":7,"method":"echo","params":{"text":"x"}}');
    expect(JSON.parse(sent[0] ?? "")).toEqual({
      id: 7,
      error: {
        code: -32600,
        message: "request id 7 is already in use",
        data: { kind: "DuplicateRequestId" },
      },
    });
    open("e");
  });

  test("RpcPeer sends a Uint8Array result through the transport's sendBytes", async () => {
    const { client, bytes } = pair();
    expect(await client.call("bytes", {})).toEqual(new Uint8Array([1, 2, 3]));
    expect(bytes).toEqual([[1, new Uint8Array([1, 2, 3])]]);
  });

  test("RpcPeer runs afterReply actions right after the reply is sent", async () => {
    const { client, order, open } = pair();
    const call = client.call("wait", { key: "f" });
    open("f");
    await call;
    expect(order).toEqual(["reply", "after f"]);
  });

  test("RpcPeer replies in the request's own turn to a handler that answers or throws without awaiting", () => {
    const sent: string[] = [];
    const server = servingPeer({ send: (text) => void sent.push(text) });
    void server.receive('{"id":1,"method":"echo","params":{"text":"x"}}');
    void server.receive('{"id":2,"method":"echo","params":{"text":5}}');
    void server.receive('{"id":3,"method":"nope","params":{}}');
    expect(sent.map((text) => JSON.parse(text).id)).toEqual([1, 2, 3]);
    expect(server.inflight).toBe(0);
  });

  test("RpcPeer rejects, never throws, when a notification or response handler throws", async () => {
    const fault = new Error("handler fault");
    const peer = new RpcPeer({
      transport: { send: () => {} },
      jsonrpc: false,
      log: () => {},
      remoteError: fromWireError,
      onNotification: () => {
        throw fault;
      },
      onStrayResponse: () => {
        throw fault;
      },
    });
    let notified: Promise<void> | undefined;
    let responded: Promise<void> | undefined;
    expect(() => {
      notified = peer.receive('{"method":"tick","params":{}}');
      responded = peer.receiveValue({ id: 99, result: {} });
    }).not.toThrow();
    await expect(notified).rejects.toBe(fault);
    await expect(responded).rejects.toBe(fault);
  });

  test("RpcPeer resolves receive once an awaited reply is sent, and forgets the request then", async () => {
    const { server, sent, open } = pair();
    const served = server.receive('{"id":8,"method":"wait","params":{"key":"g"}}');
    expect(server.inflight).toBe(1);
    open("g");
    await served;
    expect({ inflight: server.inflight, sent: sent.map((text) => JSON.parse(text)) }).toEqual({
      inflight: 0,
      sent: [{ id: 8, result: {} }],
    });
  });

  test("RpcPeer mirrors the jsonrpc member of the first message it receives", async () => {
    const { server, sent } = pair();
    await server.receive('{"jsonrpc":"2.0","id":"a","method":"echo","params":{"text":"x"}}');
    expect(JSON.parse(sent[0] ?? "")).toEqual({ jsonrpc: "2.0", id: "a", result: { text: "x" } });
  });
});

describe("RpcPeer raw bytes", () => {
  const RAW = { "raw": { params: z.object({}), result: z.object({ dataBase64: z.string() }) } } as const;

  function rawServer(transport: { send(text: string): void; sendBinary?(frame: Uint8Array): void }) {
    return new RpcPeer<InboundCall>({
      transport,
      serve: {
        routes: bindHandlers(RAW, {
          raw: () => withRawBytes({ dataBase64: "AAE=" }, { bytes: new Uint8Array([0, 1]), headroom: 0 }),
        }),
        context: (call) => call,
      },
      jsonrpc: "mirror",
      log: () => {},
      remoteError: fromWireError,
    });
  }

  test("a result with raw bytes goes as a binary frame where the transport has them", async () => {
    const frames: Uint8Array[] = [];
    const texts: string[] = [];
    const server = rawServer({ send: (text) => texts.push(text), sendBinary: (frame) => frames.push(frame) });
    await server.receive('{"jsonrpc":"2.0","id":7,"method":"raw","params":{}}');
    expect(texts).toEqual([]);
    expect(frames.map((frame) => [...frame])).toEqual([
      [...new TextEncoder().encode('{"jsonrpc":"2.0","id":7,"result":{"byteLength":2}}\n'), 0, 1],
    ]);
  });

  test("a result with raw bytes goes as its text form where the transport has no binary frames", async () => {
    const texts: string[] = [];
    const server = rawServer({ send: (text) => texts.push(text) });
    await server.receive('{"id":7,"method":"raw","params":{}}');
    expect(texts).toEqual(['{"id":7,"result":{"dataBase64":"AAE="}}']);
  });
});
