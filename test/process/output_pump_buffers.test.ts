import { expect, test } from "bun:test";
import { pooledBuffers } from "../../src/runtime/mod.ts";
import type { Runtime } from "../../src/runtime/mod.ts";
import { closeOver, emptyPipe, standInProcess } from "../helpers/stand_in_process.ts";

test("a process/read of kept output returns its bytes after the pump reused their buffers", async () => {
  const runtime = {
    encodeBase64: (bytes: Uint8Array) => Buffer.from(bytes).toString("base64"),
    keepsOutputBytes: true,
    releaseMemory: () => {},
  } as unknown as Runtime;
  // Each chunk is handed over only once the previous one was appended, so each takes a read of
  // its own and may land in the buffer the previous one was read into.
  let appended = Promise.withResolvers<void>();
  const process = standInProcess(runtime, {
    processId: "echo",
    argv0: "/bin/cat",
    retainedOutputBytes: 1_048_576,
    output: () => appended.resolve(),
  });
  // The second fills most of its buffer, which the log keeps as it is; the others are copied.
  const sent: Uint8Array[] = [
    new Uint8Array(700).fill(0x61),
    new Uint8Array(40_000).fill(0x62),
    new Uint8Array(500).fill(0x63),
  ];
  let step = 0;
  const stdout = new ReadableStream({
    type: "bytes",
    async pull(controller: ReadableByteStreamController) {
      const request = controller.byobRequest;
      if (request === null || request.view === null) return;
      const view = request.view;
      if (step > 0) await appended.promise;
      appended = Promise.withResolvers<void>();
      const chunk = sent[step++];
      if (chunk === undefined) {
        controller.close();
        request.respond(0);
        return;
      }
      new Uint8Array(view.buffer, view.byteOffset, chunk.byteLength).set(chunk);
      request.respond(chunk.byteLength);
    },
  });
  await closeOver(process, stdout);
  const chunks = process.read(0, null).chunks.map((chunk) => Buffer.from(chunk.chunk, "base64"));
  expect(chunks).toEqual(sent.map((bytes) => Buffer.from(bytes)));
});

test("a silent child's output pumps hand the buffers of their last reads back to the pool", async () => {
  // Only what the process touches: the encoder and the release hint.
  const runtime = { encodeBase64: () => "", releaseMemory: () => {} } as unknown as Runtime;
  const process = standInProcess(runtime, {
    processId: "silent",
    argv0: "/bin/true",
    retainedOutputBytes: 1024,
  });
  const before = pooledBuffers();
  await closeOver(process, emptyPipe());
  // Each pump took a buffer from the pool (or a fresh one when it was empty) for its first read,
  // whose end came back in it.
  expect(pooledBuffers()).toBe(Math.max(before, 2));
});
