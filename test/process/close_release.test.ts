import { describe, expect, test } from "bun:test";
import type { Runtime } from "../../src/runtime/mod.ts";
import { RELEASE_AFTER_BYTES } from "../../src/process/managed_process.ts";
import { closeOver, standInProcess } from "../helpers/stand_in_process.ts";

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
  const process = standInProcess(runtime, {
    processId: "flood",
    argv0: "/usr/bin/head",
    retainedOutputBytes: 1_048_576,
    delivering,
  });
  await closeOver(process, zeros(bytes));
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
