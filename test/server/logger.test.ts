import { expect, test } from "bun:test";
import { z } from "zod";
import { createLogger } from "../../src/server/logger.ts";

const LineSchema = z.object({ level: z.literal("error"), message: z.string(), detail: z.string() });

/** The detail of the one error line `detail` is logged as. */
function loggedDetail(detail: unknown): string {
  const lines: string[] = [];
  createLogger((line) => lines.push(line), true).error("failed", detail);
  expect(lines).toHaveLength(1);
  return LineSchema.parse(JSON.parse(lines[0] ?? "")).detail;
}

test("an error's detail that is a plain object is logged with its fields, not as [object Object]", () => {
  // The fs worker's exit: its status and the tail of its stderr say why it ended.
  const detail = loggedDetail({
    status: 127,
    stderr: "exec-server: cannot execute /usr/local/bin/exec-server",
  });
  expect(JSON.parse(detail)).toEqual({
    status: 127,
    stderr: "exec-server: cannot execute /usr/local/bin/exec-server",
  });
});

test("an Error is logged with its stack, and a value that JSON cannot write as its string", () => {
  expect(loggedDetail(new Error("boom"))).toContain("Error: boom");
  expect(loggedDetail("plain words")).toBe("plain words");
  const cyclic: Record<string, unknown> = {};
  cyclic["self"] = cyclic;
  expect(loggedDetail(cyclic)).toBe("[object Object]");
  expect(loggedDetail(10n)).toBe("10");
});
