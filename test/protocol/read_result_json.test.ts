import { describe, expect, test } from "bun:test";
import { seededRandom } from "../helpers/seeded_random.ts";
import { encodeBase64, processReadResultJson, ProcessReadResultSchema } from "../../src/protocol/mod.ts";
import type { ProcessReadResult, StreamName } from "../../src/protocol/mod.ts";

const STREAMS: StreamName[] = ["stdout", "stderr", "pty"];
const FAILURES = [null, "memory limit of 1048576 bytes exceeded", 'a "quoted"\nfailure \\ é😀\u2028'];

describe("processReadResultJson", () => {
  test("equals JSON.stringify of the result, and of the schema-parsed result", () => {
    const next = seededRandom(29);
    for (let round = 0; round < 300; round++) {
      const chunks = Array.from({ length: Math.floor(next() * 6) }, (_, i) => ({
        seq: i + 1 + Math.floor(next() * 1000),
        stream: STREAMS[Math.floor(next() * 3)] ?? "stdout",
        chunk: encodeBase64(new Uint8Array(Math.floor(next() * 200)).map(() => Math.floor(next() * 256))),
      }));
      const exited = next() < 0.5;
      const result: ProcessReadResult = {
        chunks,
        nextSeq: 1 + Math.floor(next() * Number.MAX_SAFE_INTEGER),
        exited,
        exitCode: exited ? Math.floor(next() * 256) - 1 : null,
        closed: exited && next() < 0.5,
        failure: FAILURES[round % FAILURES.length] ?? null,
        sandboxDenied: next() < 0.2,
        droppedBytes: Math.floor(next() * 1e9),
      };
      if (next() < 0.3) result.timedOut = true;
      const text = processReadResultJson(result);
      expect(text, `seed 29 round ${round}`).toBe(JSON.stringify(result));
      expect(text, `seed 29 round ${round}`).toBe(JSON.stringify(ProcessReadResultSchema.parse(result)));
    }
  });
});
