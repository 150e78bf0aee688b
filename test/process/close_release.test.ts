import { describe, expect, test } from "bun:test";
import type { Container } from "../../src/containment/mod.ts";
import type { ExitStatus, PipeChild, Runtime } from "../../src/runtime/mod.ts";
import { InputBudget } from "../../src/process/input_budget.ts";
import { ManagedProcess, RELEASE_AFTER_BYTES } from "../../src/process/managed_process.ts";

const CHUNK_BYTES = 65_536;

/** A pipe that yields `bytes` of zeros in 64 KiB chunks, then ends. */
function zeros(bytes: number): ReadableStream<Uint8Array> {
  let left = bytes;
  const chunk = new Uint8Array(CHUNK_BYTES);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left <= 0) {
        controller.close();
        return;
      }
      const size = Math.min(left, CHUNK_BYTES);
      left -= size;
      controller.enqueue(chunk.slice(0, size));
    },
  });
}

/** Closes a process that printed `bytes` of stdout; the releases it asked the runtime for. */
async function releasesAfterStream(bytes: number, delivering: boolean): Promise<number> {
  let releases = 0;
  const runtime = {
    encodeBase64: () => "",
    keepsOutputBytes: false,
    releaseMemory: () => void releases++,
  } as unknown as Runtime;
  const process = new ManagedProcess(runtime, {
    processId: "flood",
    argv0: "/usr/bin/head",
    tty: false,
    retainedOutputBytes: 1_048_576,
    killGraceMs: 1000,
    inputBudget: new InputBudget(1024).account({}),
    writeIdsKept: 1024,
  }, {
    output: () => {},
    exited: () => {},
    closed: () => {},
    flowReady: () => null,
    delivering: () => delivering,
  });
  const empty = new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
  const child: PipeChild = {
    pid: 2 ** 31 - 1,
    stdout: zeros(bytes),
    stderr: empty,
    stdin: null,
    exited: Promise.resolve<ExitStatus>({ code: 0, signal: null }),
  };
  const container = {
    started: () => {},
    leaderReaped: () => {},
    limitFailure: () => Promise.resolve(null),
    closed: () => {},
    signalAll: () => {},
  } as unknown as Container;
  process.attachPipes(child, { timeoutMs: null, container });
  await process.closedPromise;
  return releases;
}

describe("the release after a large stream", () => {
  test("a process whose large output went nowhere asks for a release at its close", async () => {
    expect(await releasesAfterStream(RELEASE_AFTER_BYTES + CHUNK_BYTES, false)).toBe(1);
  });

  test("a process whose large output went to a connection leaves the release to the quiet after it", async () => {
    // The connection's traffic starts the quiet release once the stream is over; a release at the
    // close runs while the output's tail and `closed` are still leaving, and holds them up.
    expect(await releasesAfterStream(RELEASE_AFTER_BYTES + CHUNK_BYTES, true)).toBe(0);
  });
});
