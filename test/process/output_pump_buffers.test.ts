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

test("a silent child's output pumps hand the buffers of their last reads back to the pool", async () => {
  // Only what the process touches: the encoder and the release hint.
  const runtime = { encodeBase64: () => "", releaseMemory: () => {} } as unknown as Runtime;
  const container = {
    started: () => {},
    leaderReaped: () => {},
    limitFailure: () => Promise.resolve(null),
    closed: () => {},
    signalAll: () => {},
  } as unknown as Container;
  const process = new ManagedProcess(runtime, {
    processId: "silent",
    argv0: "/bin/true",
    tty: false,
    retainedOutputBytes: 1024,
    killGraceMs: 1000,
    inputBudget: new InputBudget(1024).account({}),
    writeIdsKept: 1024,
  }, { output: () => {}, exited: () => {}, closed: () => {}, flowReady: () => null });
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
