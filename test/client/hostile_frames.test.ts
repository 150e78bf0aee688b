/**
 * The client against stand-in servers whose replies it cannot read: binary frames (PROTOCOL.md
 * §11.12) not asked for or not frames, and replies with neither result nor error. The call they
 * answer fails with `badReply` at once instead of waiting for ever for a reply that has come.
 */
import { describe, expect, test } from "bun:test";
import { ExecServerClient } from "../../src/client/mod.ts";
import { rejectionOf } from "../helpers/rejection.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import { realEnvironmentInfo, reply, standInServer } from "../helpers/stand_in_server.ts";
import type { StandInMessage } from "../helpers/stand_in_server.ts";

const UTF8 = new TextEncoder();

/** A binary message: `header` as JSON, a newline, then `payload`. */
function frame(header: unknown, payload: Uint8Array): Uint8Array {
  const head = UTF8.encode(`${JSON.stringify(header)}\n`);
  const bytes = new Uint8Array(head.byteLength + payload.byteLength);
  bytes.set(head);
  bytes.set(payload, head.byteLength);
  return bytes;
}

describe("ExecServerClient against replies it cannot read", () => {
  const real = sharedServer("bun");
  const info = realEnvironmentInfo(real);

  /**
   * A stand-in that grants binary frames when `grant`, and answers `fs/readFile` with `answer`: a
   * binary message, or a text one.
   */
  function framingServer(grant: boolean, answer: (message: StandInMessage) => Uint8Array | string) {
    return standInServer((ws, message) => {
      if (message.method === "initialize") {
        reply(ws, message, {
          sessionId: "s-1",
          environmentInfo: info(),
          ...(grant ? { binaryFrames: true } : {}),
        });
      }
      if (message.method === "fs/readFile") ws.send(answer(message));
    });
  }

  test("a reply in a binary frame that the client did not ask for fails its call with badReply", async () => {
    await using standIn = framingServer(
      false,
      (message) => frame({ id: message.id, result: { byteLength: 3 } }, UTF8.encode("abc")),
    );
    await using client = await ExecServerClient.connect(standIn.url, { binaryFrames: false });
    // The bound only turns a hang into a failure of this test; the answer is at once.
    const error = await rejectionOf(client.call("fs/readFile", { path: "/nowhere" }, { timeoutMs: 10_000 }));
    expect(error).toMatchObject({ reason: "badReply" });
    expect(String(error)).toContain("binary frame");
    // The connection is still usable: the next call gets its own answer.
    expect(await rejectionOf(client.call("fs/readFile", { path: "/nowhere" }, { timeoutMs: 10_000 })))
      .toMatchObject({ reason: "badReply" });
  });

  test("a binary reply that is no frame (its byteLength is wrong) fails its call with badReply", async () => {
    await using standIn = framingServer(
      true,
      (message) => frame({ id: message.id, result: { byteLength: 99 } }, UTF8.encode("abc")),
    );
    await using client = await ExecServerClient.connect(standIn.url);
    expect(client.binaryFrames).toBe(true);
    const error = await rejectionOf(client.call("fs/readFile", { path: "/nowhere" }, { timeoutMs: 10_000 }));
    expect(error).toMatchObject({ reason: "badReply" });
  });

  test("a binary message that is UTF-8 JSON is a message like a text one (§1.5)", async () => {
    await using standIn = framingServer(
      false,
      (message) => UTF8.encode(JSON.stringify({ id: message.id, result: { dataBase64: "YWJj" } })),
    );
    await using client = await ExecServerClient.connect(standIn.url, { binaryFrames: false });
    expect(await client.call("fs/readFile", { path: "/nowhere" }, { timeoutMs: 10_000 })).toEqual({
      dataBase64: "YWJj",
    });
  });

  test("a text reply with neither result nor error fails its call with badReply", async () => {
    await using standIn = framingServer(false, (message) => JSON.stringify({ id: message.id }));
    await using client = await ExecServerClient.connect(standIn.url, { binaryFrames: false });
    const error = await rejectionOf(client.call("fs/readFile", { path: "/nowhere" }, { timeoutMs: 10_000 }));
    expect(error).toMatchObject({ reason: "badReply" });
  });
});
