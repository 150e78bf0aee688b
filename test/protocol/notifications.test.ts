import { describe, expect, test } from "bun:test";
import { seededRandom } from "../helpers/seeded_random.ts";
import {
  encodeBase64,
  processClosedJson,
  ProcessClosedParamsSchema,
  processExitedJson,
  ProcessExitedParamsSchema,
  processOutputJson,
  ProcessOutputParamsSchema,
} from "../../src/protocol/mod.ts";
import type { StreamName } from "../../src/protocol/mod.ts";

/** Process ids that need escaping in JSON, and some that do not. */
const IDS = [
  "p1",
  "",
  'quote"d',
  "back\\slash",
  "new\nline",
  "tab\t",
  "\u0000nul",
  "é😀",
  "\u2028sep",
  "x".repeat(1024),
];
const STREAMS: StreamName[] = ["stdout", "stderr", "pty"];

describe("notification encoders", () => {
  test("processOutputJson equals JSON.stringify of the schema-parsed params", () => {
    const next = seededRandom(17);
    for (let round = 0; round < 200; round++) {
      const bytes = new Uint8Array(Math.floor(next() * 300)).map(() => Math.floor(next() * 256));
      const params = {
        processId: IDS[round % IDS.length] ?? "",
        seq: 1 + Math.floor(next() * Number.MAX_SAFE_INTEGER),
        stream: STREAMS[round % STREAMS.length] ?? "stdout",
        chunk: encodeBase64(bytes),
      };
      expect(processOutputJson(params.processId, params), `seed 17 round ${round}`).toBe(
        JSON.stringify(ProcessOutputParamsSchema.parse(params)),
      );
    }
  });

  test("processExitedJson equals JSON.stringify of the schema-parsed params", () => {
    const cases = [
      { exitCode: 0, sandboxDenied: false, timedOut: false, failure: null },
      { exitCode: 137, sandboxDenied: true, timedOut: false, failure: null },
      { exitCode: 143, sandboxDenied: false, timedOut: true, failure: null },
      {
        exitCode: 137,
        sandboxDenied: false,
        timedOut: false,
        failure: 'memory limit "quoted" \u2028 reached',
      },
    ] as const;
    for (const processId of IDS) {
      for (const { exitCode, sandboxDenied, timedOut, failure } of cases) {
        const params = {
          processId,
          seq: 9,
          exitCode,
          sandboxDenied,
          ...(timedOut ? { timedOut } : {}),
          ...(failure === null ? {} : { failure }),
        };
        expect(processExitedJson(processId, { seq: 9, exitCode, sandboxDenied, timedOut, failure })).toBe(
          JSON.stringify(ProcessExitedParamsSchema.parse(params)),
        );
      }
    }
  });

  test("processClosedJson equals JSON.stringify of the schema-parsed params", () => {
    for (const processId of IDS) {
      expect(processClosedJson(processId, 3)).toBe(
        JSON.stringify(ProcessClosedParamsSchema.parse({ processId, seq: 3 })),
      );
    }
  });
});
