import { expect, test } from "bun:test";
import { pooledBuffers } from "../../src/runtime/mod.ts";
import type { ExitStatus, PipeChild, Runtime } from "../../src/runtime/mod.ts";
import type { Container } from "../../src/containment/mod.ts";
import { InputBudget } from "../../src/process/input_budget.ts";
import { ManagedProcess } from "../../src/process/managed_process.ts";

/** A byte stream, as Deno's pipes are, that ends at once: a child that wrote nothing. */
function emptyPipe(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "bytes",
    start(controller) {
      controller.close();
    },
  });
}

test("a process/read of kept output returns its bytes after the pump reused their buffers", async () => {
  const runtime = {
    encodeBase64: (bytes: Uint8Array) => Buffer.from(bytes).toString("base64"),
    keepsOutputBytes: true,
    releaseMemory: () => {},
  } as unknown as Runtime;
  const container = idleContainer();
  // Each chunk is handed over only once the previous one was appended, so each takes a read of
  // its own and may land in the buffer the previous one was read into.
  let appended = Promise.withResolvers<void>();
  const process = new ManagedProcess(runtime, {
    processId: "echo",
    argv0: "/bin/cat",
    tty: false,
    retainedOutputBytes: 1_048_576,
    killGraceMs: 1000,
    inputBudget: new InputBudget(1024).account({}),
    writeIdsKept: 1024,
  }, {
    output: () => appended.resolve(),
    exited: () => {},
    closed: () => {},
    flowReady: () => null,
    delivering: () => false,
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
  const child: PipeChild = {
    pid: 2 ** 31 - 1,
    stdout,
    stderr: emptyPipe(),
    stdin: null,
    exited: Promise.resolve<ExitStatus>({ code: 0, signal: null }),
  };
  process.attachPipes(child, { timeoutMs: null, container });
  await process.closedPromise;
  const chunks = process.read(0, null).chunks.map((chunk) => Buffer.from(chunk.chunk, "base64"));
  expect(chunks).toEqual(sent.map((bytes) => Buffer.from(bytes)));
});

test("a silent child's output pumps hand the buffers of their last reads back to the pool", async () => {
  // Only what the process touches: the encoder and the release hint.
  const runtime = { encodeBase64: () => "", releaseMemory: () => {} } as unknown as Runtime;
  const container = idleContainer();
  const process = new ManagedProcess(runtime, {
    processId: "silent",
    argv0: "/bin/true",
    tty: false,
    retainedOutputBytes: 1024,
    killGraceMs: 1000,
    inputBudget: new InputBudget(1024).account({}),
    writeIdsKept: 1024,
  }, {
    output: () => {},
    exited: () => {},
    closed: () => {},
    flowReady: () => null,
    delivering: () => false,
  });
  const before = pooledBuffers();
  // No such pid: nothing here signals it, and if anything did, it would reach no process.
  const exited = Promise.resolve<ExitStatus>({ code: 0, signal: null });
  const child: PipeChild = {
    pid: 2 ** 31 - 1,
    stdout: emptyPipe(),
    stderr: emptyPipe(),
    stdin: null,
    exited,
  };
  process.attachPipes(child, { timeoutMs: null, container });
  await process.closedPromise;
  // Each pump took a buffer from the pool (or a fresh one when it was empty) for its first read,
  // whose end came back in it.
  expect(pooledBuffers()).toBe(Math.max(before, 2));
});

/** A container that only takes the calls a process makes of it. */
function idleContainer(): Container {
  return {
    started: () => {},
    leaderReaped: () => {},
    limitFailure: () => Promise.resolve(null),
    closed: () => {},
    signalAll: () => {},
  } as unknown as Container;
}
