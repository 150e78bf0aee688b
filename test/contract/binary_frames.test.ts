/**
 * Binary frames (PROTOCOL.md §11.12): a client that asks in `initialize` gets `fs/readFile` replies
 * and `process/output` notifications as a JSON header line followed by the raw bytes; every other
 * message, and every message to a client that did not ask, stays text.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { StdioServer } from "../helpers/stdio_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";

/** Every byte value, then random bytes: no text decoding survives this unchanged. */
function awkwardBytes(length: number): Buffer {
  const bytes = randomBytes(length);
  for (let value = 0; value < 256 && value < length; value++) bytes[value] = value;
  return bytes;
}

describe.each(RUNTIMES)("binary frames on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("the server advertises binary frames and sends text to a client that did not ask", async () => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, "f"), "plain");
    await using client = await server().connect();
    const result = await client.initialize();
    expect(result).not.toHaveProperty("binaryFrames");
    const extensions = (result["environmentInfo"] as { extensions: Record<string, unknown> }).extensions;
    expect(extensions["binaryFrames"]).toBe(true);
    expect(await client.call("fs/readFile", { path: pathToUri(join(dir.path, "f")) })).toEqual({
      dataBase64: Buffer.from("plain").toString("base64"),
    });
    await client.call("process/start", startParams("p", ["echo", "hi"], dir.uri));
    await client.untilClosed("p");
    expect(client.outputText("p")).toBe("hi\n");
    expect(client.binaryFrames).toBe(0);
  });

  test.concurrent("fs/readFile answers a client that asked with a header line and the file's bytes", async () => {
    await using dir = await tempDir();
    const bytes = awkwardBytes(300_000);
    await writeFile(join(dir.path, "f"), bytes);
    await using client = await server().connect();
    expect(await client.initialize(undefined, { binaryFrames: true })).toHaveProperty("binaryFrames", true);
    const reply = await client.request("fs/readFile", { path: pathToUri(join(dir.path, "f")) }, 41);
    expect(client.binaryHeaders).toEqual([
      { header: { id: 41, result: { byteLength: bytes.byteLength } }, payloadBytes: bytes.byteLength },
    ]);
    expect((reply["result"] as Record<string, unknown>)["dataBase64"]).toBe(bytes.toString("base64"));
  });

  test.concurrent("a binary fs/readFile of a file read in more steps than one carries exactly its bytes", async () => {
    await using dir = await tempDir();
    // Read buffers are not zero-filled: after a larger file's read, one that fills only part of its
    // buffer (a /proc file reports no size; a file read in steps) must bring nothing else along.
    await writeFile(join(dir.path, "big"), Buffer.alloc(1 << 20, 0x61));
    const ostype = await readFile("/proc/sys/kernel/ostype");
    await using client = await server().connect();
    await client.initialize(undefined, { binaryFrames: true });
    await client.call("fs/readFile", { path: join(dir.path, "big") });
    const reply = await client.request("fs/readFile", { path: "/proc/sys/kernel/ostype" }, 7);
    expect(reply).toEqual({ id: 7, result: { dataBase64: ostype.toString("base64") } });
    expect(client.binaryHeaders.at(-1)).toEqual({
      header: { id: 7, result: { byteLength: ostype.byteLength } },
      payloadBytes: ostype.byteLength,
    });
  });

  test.concurrent("a binary fs/readFile reply mirrors jsonrpc and a string id in its header", async () => {
    await using dir = await tempDir();
    await writeFile(join(dir.path, "empty"), "");
    await using client = await server().connect();
    client.send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { clientName: "t", binaryFrames: true },
    });
    expect((await client.replyTo(1))["result"]).toHaveProperty("binaryFrames", true);
    client.send({ jsonrpc: "2.0", method: "initialized", params: {} });
    client.send({
      jsonrpc: "2.0",
      id: "r\n1",
      method: "fs/readFile",
      params: { path: join(dir.path, "empty") },
    });
    expect(await client.replyTo("r\n1")).toEqual({ jsonrpc: "2.0", id: "r\n1", result: { dataBase64: "" } });
    expect(client.binaryHeaders).toEqual([
      { header: { jsonrpc: "2.0", id: "r\n1", result: { byteLength: 0 } }, payloadBytes: 0 },
    ]);
  });

  test.concurrent("a binary fs/readFile reply whose id is longer than the room left for a header is whole", async () => {
    await using dir = await tempDir();
    const bytes = awkwardBytes(5000);
    await writeFile(join(dir.path, "f"), bytes);
    await using client = await server().connect();
    await client.initialize(undefined, { binaryFrames: true });
    const id = "i".repeat(1000);
    const reply = await client.request("fs/readFile", { path: join(dir.path, "f") }, id);
    expect(reply).toEqual({ id, result: { dataBase64: bytes.toString("base64") } });
    expect(client.binaryHeaders).toEqual([{
      header: { id, result: { byteLength: 5000 } },
      payloadBytes: 5000,
    }]);
  });

  test.concurrent("a failing fs/readFile is a text error reply on a binary connection", async () => {
    await using dir = await tempDir();
    const params = { path: pathToUri(join(dir.path, "missing")) };
    await using text = await server().session();
    await using client = await server().connect();
    await client.initialize(undefined, { binaryFrames: true });
    expect(await client.callError("fs/readFile", params)).toEqual(
      await text.callError("fs/readFile", params),
    );
    expect(client.binaryFrames).toBe(0);
  });

  test.concurrent("a sandboxed fs/readFile comes as a binary frame with the worker's bytes", async () => {
    await using dir = await tempDir();
    const bytes = awkwardBytes(70_000);
    await writeFile(join(dir.path, "f"), bytes);
    await using client = await server().connect();
    await client.initialize(undefined, { binaryFrames: true });
    const result = await client.call("fs/readFile", {
      path: pathToUri(join(dir.path, "f")),
      sandbox: managedSandbox({ read: [dir.path] }),
    });
    expect(client.binaryHeaders.map((frame) => frame.payloadBytes)).toEqual([bytes.byteLength]);
    expect(result["dataBase64"]).toBe(bytes.toString("base64"));
  });

  test.concurrent("process output comes as binary frames with every byte, in seq order, exit and close as text", async () => {
    await using dir = await tempDir();
    const bytes = awkwardBytes(3 * 1024 * 1024 + 17);
    await writeFile(join(dir.path, "f"), bytes);
    await using client = await server().connect();
    await client.initialize(undefined, { binaryFrames: true });
    await client.call("process/start", startParams("cat", ["cat", "f"], dir.uri, { env: CHILD_PATH }));
    const events = await client.untilClosed("cat");
    const output = events.filter((event) => event.method === "process/output");
    const text = output.map((event) => event.method === "process/output" ? event.text : "").join("");
    expect(Buffer.from(text, "latin1").toString("base64")).toBe(bytes.toString("base64"));
    const seqs = events.map((event) => event.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(events.map((_, index) => index + 1));
    expect(events.at(-1)).toEqual({ method: "process/closed", seq: events.length });
    const outputHeaders = client.binaryHeaders.filter((frame) => frame.header["method"] === "process/output");
    expect(outputHeaders).toHaveLength(output.length);
    expect(client.binaryFrames).toBe(output.length);
    for (const { header, payloadBytes } of outputHeaders) {
      const params = header["params"] as Record<string, unknown>;
      expect(Object.keys(header)).toEqual(["method", "params"]);
      expect(Object.keys(params)).toEqual(["processId", "seq", "stream", "byteLength"]);
      expect([params["processId"], params["stream"], params["byteLength"]]).toEqual([
        "cat",
        "stdout",
        payloadBytes,
      ]);
    }
  });

  test.concurrent("process/read still answers base64 text on a binary connection", async () => {
    await using dir = await tempDir();
    await using client = await server().connect();
    await client.initialize(undefined, { binaryFrames: true });
    await client.call("process/start", startParams("p", ["printf", "\\377ok"], dir.uri, { env: CHILD_PATH }));
    await client.untilClosed("p");
    const framesBefore = client.binaryFrames;
    const read = await client.call("process/read", { processId: "p" }) as {
      chunks: Array<{ chunk: string }>;
    };
    expect(read.chunks.map((chunk) => chunk.chunk).join("")).toBe(
      Buffer.from("\xffok", "latin1").toString("base64"),
    );
    expect(client.binaryFrames).toBe(framesBefore);
  });

  test.concurrent("a resumed session sends binary frames only if the new connection asked", async () => {
    await using dir = await tempDir();
    await using first = await server().connect();
    await first.initialize(undefined, { binaryFrames: true });
    const sessionId = first.sessionId;
    const cat = startParams("cat", ["cat"], dir.uri, { env: CHILD_PATH, pipeStdin: true });
    await first.call("process/start", cat);
    await first.call("process/write", { processId: "cat", chunk: Buffer.from("bytes\n").toString("base64") });
    await first.waitForOutput("cat", "bytes\n");
    expect(first.binaryFrames).toBe(1);
    await first[Symbol.asyncDispose]();
    await using second = await server().connect();
    expect(await second.initialize(sessionId)).not.toHaveProperty("binaryFrames");
    await second.call("process/write", { processId: "cat", chunk: Buffer.from("text\n").toString("base64") });
    await second.waitForOutput("cat", "text\n");
    await second.call("process/terminate", { processId: "cat" });
    expect(second.binaryFrames).toBe(0);
  });

  test.concurrent("the stdio transport refuses binary frames in the initialize result and stays text", async () => {
    await using server = StdioServer.start(runtime);
    server.send({ id: 1, method: "initialize", params: { clientName: "t", binaryFrames: true } });
    const result = (await server.replyTo(1))["result"] as Record<string, unknown>;
    expect(result["binaryFrames"]).toBe(false);
    const extensions = (result["environmentInfo"] as { extensions: Record<string, unknown> }).extensions;
    expect(extensions["binaryFrames"]).toBe(false);
  });

  test.concurrent("binaryFrames that is not a boolean is -32602 naming it", async () => {
    await using client = await server().connect();
    const error = await client.callError("initialize", { clientName: "t", binaryFrames: "yes" });
    expect(error.code).toBe(-32602);
    expect(error.message).toContain("binaryFrames");
  });
});
