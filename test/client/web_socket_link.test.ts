/**
 * How the client's link reads binary messages (PROTOCOL.md §1.5, §11.12): a frame when it asked for
 * frames and the message is one, UTF-8 JSON otherwise. A scripted server answers each request
 * with the binary message the request names.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { WebSocketLink } from "../../src/client/web_socket_link.ts";

const UTF8 = new TextEncoder();

/** A frame: header line, newline, payload. */
function frame(header: unknown, payload: Uint8Array): Uint8Array {
  const head = UTF8.encode(JSON.stringify(header) + "\n");
  const whole = new Uint8Array(head.byteLength + payload.byteLength);
  whole.set(head);
  whole.set(payload, head.byteLength);
  return whole;
}

/** What the scripted server sends for each method, given the request's id. */
const SCRIPT: Record<string, (id: number) => Uint8Array[]> = {
  "frame reply": (id) => [frame({ id, result: { byteLength: 3 } }, new Uint8Array([0, 10, 255]))],
  // UTF-8 JSON that a newline splits into what looks like a header: no byteLength, so no frame.
  "json with a trailing newline": (id) => [UTF8.encode(JSON.stringify({ id, result: { ok: true } }) + "\n")],
  // A header whose byteLength does not match what follows it is no frame either.
  "json with a newline inside": (id) => [UTF8.encode(`{"id":${id},\n"result":{"byteLength":1}}`)],
  "output frame, then reply": (id) => [
    frame(
      { method: "process/output", params: { processId: "p", seq: 1, stream: "stdout", byteLength: 2 } },
      new Uint8Array([104, 10]),
    ),
    UTF8.encode(JSON.stringify({ id, result: {} })),
  ],
};

describe("WebSocketLink and binary messages", () => {
  let server: Bun.Server<undefined> | null = null;
  const url = (): string => `ws://127.0.0.1:${server?.port ?? 0}`;

  beforeAll(() => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request, self) =>
        self.upgrade(request, { data: undefined }) ? undefined : new Response(null, { status: 400 }),
      websocket: {
        message(ws, message) {
          const { id, method } = JSON.parse(String(message)) as { id: number; method: string };
          for (const data of SCRIPT[method]?.(id) ?? []) ws.send(data);
        },
      },
    });
  });

  afterAll(async () => {
    await server?.stop(true);
  });

  async function open(binaryFrames: boolean, notifications: unknown[] = []): Promise<WebSocketLink> {
    return await WebSocketLink.open(url(), {
      timeoutMs: 5_000,
      binaryFrames,
      onNotification: (method, params, payload) =>
        notifications.push({ method, params, payload: payload === undefined ? null : [...payload] }),
      onClose: () => {},
    });
  }

  test("a frame reply becomes the text form's result, with its payload as base64", async () => {
    const link = await open(true);
    expect(await link.peer.call("frame reply", {})).toEqual({ dataBase64: "AAr/" });
    link.close();
  });

  test("a binary message that only looks like a frame is read as UTF-8 JSON", async () => {
    const link = await open(true);
    expect(await link.peer.call("json with a trailing newline", {})).toEqual({ ok: true });
    expect(await link.peer.call("json with a newline inside", {})).toEqual({ byteLength: 1 });
    link.close();
  });

  test("an output frame reaches onNotification with its payload; without asking it is not a frame", async () => {
    const seen: unknown[] = [];
    const link = await open(true, seen);
    await link.peer.call("output frame, then reply", {});
    expect(seen).toEqual([{
      method: "process/output",
      params: { processId: "p", seq: 1, stream: "stdout", byteLength: 2 },
      payload: [104, 10],
    }]);
    link.close();
    const unasked: unknown[] = [];
    const plain = await open(false, unasked);
    await plain.peer.call("output frame, then reply", {});
    // Read as UTF-8 JSON, the frame does not parse and is dropped; the reply still arrives.
    expect(unasked).toEqual([]);
    plain.close();
  });
});
