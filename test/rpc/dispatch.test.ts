import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { formatIssues } from "../../src/rpc/dispatch.ts";

/** The message `schema` gives `value`, as a -32602 names it. */
function messageOf(schema: z.ZodType, value: unknown): string {
  const parsed = schema.safeParse(value, { reportInput: true });
  if (parsed.success) throw new Error("the value was accepted");
  return formatIssues(parsed.error.issues);
}

describe("formatIssues", () => {
  test("names the tightest of several bounds on one member, once", () => {
    const params = z.object({
      afterSeq: z.number().int().min(0).max(2 ** 53 - 1),
      timeoutMs: z.number().int().max(2_147_483_647),
    });
    expect(messageOf(params, { afterSeq: 1e16, timeoutMs: 1 })).toBe(
      "afterSeq: must be at most 9007199254740991",
    );
    expect(messageOf(params, { afterSeq: -1e300, timeoutMs: 1 })).toBe("afterSeq: must be at least 0");
    expect(messageOf(params, { afterSeq: 1, timeoutMs: 1e300 })).toBe(
      "timeoutMs: must be at most 2147483647",
    );
  });

  test("a missing member of a union is required, a wrong one matches none of the forms", () => {
    const params = z.object({ signal: z.union([z.string(), z.number()]) });
    expect(messageOf(params, {})).toBe("signal: required");
    expect(messageOf(params, { signal: true })).toBe("signal: matches none of the accepted forms");
  });
});
