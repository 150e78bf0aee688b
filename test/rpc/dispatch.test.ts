import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { RpcError } from "../../src/protocol/mod.ts";
import { formatIssues, parseParams } from "../../src/rpc/dispatch.ts";

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

  // Each issue was compared with every other: `argv` of 500,000 numbers (a 1 MB message) held a
  // server's only thread for hours, and every client with it.
  test("formats half a million issues, comparing each only with those on its own member", () => {
    const params = z.object({ argv: z.array(z.string()) });
    expect(messageOf(params, { argv: Array<number>(500_000).fill(1) })).toBe(
      "argv.0: expected string, got number; argv.1: expected string, got number; argv.2: expected string, got number",
    );
  });

  test("a missing member of a union is required, a wrong one matches none of the forms", () => {
    const params = z.object({ signal: z.union([z.string(), z.number()]) });
    expect(messageOf(params, {})).toBe("signal: required");
    expect(messageOf(params, { signal: true })).toBe("signal: matches none of the accepted forms");
  });
});

/** The message of the -32602 that `parseParams` throws for `params`. */
function refusalOf(params: unknown): string {
  try {
    parseParams("m", z.unknown(), params);
  } catch (error) {
    if (error instanceof RpcError && error.code === -32602) return error.message;
    throw error;
  }
  throw new Error("the params were accepted");
}

describe("parseParams", () => {
  test.each([
    ["a member", { path: "/a\udc00b" }, "path: lone surrogate U+DC00 at index 2"],
    ["an array element", { argv: ["x", "\ud800"] }, "argv.1: lone surrogate U+D800 at index 0"],
    ["a member name", { env: { "a\ud800": "1" } }, "env: lone surrogate U+D800 at index 1 of a member name"],
    [
      "an ignored member",
      { metadata: { a: [{ b: "\udfff" }] } },
      "metadata.a.0.b: lone surrogate U+DFFF at index 0",
    ],
    ["a reversed pair", { s: "\udc00\ud800" }, "s: lone surrogate U+DC00 at index 0"],
    ["a lead at the end", { s: "ab\ud83d" }, "s: lone surrogate U+D83D at index 2"],
    ["the params themselves", "\udc00", "lone surrogate U+DC00 at index 0"],
  ])("parseParams refuses a lone surrogate in %s, naming where", (_case, params, problem) => {
    expect(refusalOf(params)).toBe(`invalid params for m: ${problem}, which is not valid Unicode`);
  });

  test("parseParams names the first lone surrogate in document order", () => {
    expect(refusalOf({ a: ["ok", "\udc01"], b: "\udc02" })).toBe(
      "invalid params for m: a.1: lone surrogate U+DC01 at index 0, which is not valid Unicode",
    );
  });

  test("parseParams accepts surrogate pairs", () => {
    expect(parseParams("m", z.unknown(), { "\u{1f600}": ["\u{1f600}", "x\ud83d\ude00y"] })).toEqual({
      "\u{1f600}": ["\u{1f600}", "x\u{1f600}y"],
    });
  });

  test("parseParams walks params nested deeper than the call stack goes", () => {
    let params: unknown = "\udc00";
    for (let depth = 0; depth < 200_000; depth++) params = [params];
    expect(refusalOf(params).endsWith(": lone surrogate U+DC00 at index 0, which is not valid Unicode")).toBe(
      true,
    );
  });
});
