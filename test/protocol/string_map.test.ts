import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { StringMapSchema, StringMapWireSchema } from "../../src/protocol/mod.ts";

describe("StringMapSchema", () => {
  test("StringMapSchema keeps every member, __proto__ too, in an object without a prototype", () => {
    const parsed = StringMapSchema.parse(JSON.parse('{"__proto__":"pp","constructor":"cc","A":"1"}'));
    expect([Object.getPrototypeOf(parsed), Object.entries(parsed)]).toEqual([
      null,
      [["__proto__", "pp"], ["constructor", "cc"], ["A", "1"]],
    ]);
  });

  test.each([
    ["a string value", '{"A":"1"}'],
    ["a number value", '{"A":1,"B":"2"}'],
    ["a null value", '{"A":null}'],
    ["an array", "[]"],
    ["null", "null"],
    ["a string", '"x"'],
  ])("StringMapSchema reports what the record reports for %s", (_case, json) => {
    const input: unknown = JSON.parse(json);
    const issues = (result: z.ZodSafeParseResult<unknown>) =>
      result.success ? [] : result.error.issues.map(({ code, path, message }) => ({ code, path, message }));
    expect(issues(StringMapSchema.safeParse(input))).toEqual(issues(StringMapWireSchema.safeParse(input)));
  });

  test("StringMapSchema refuses a __proto__ member that is not a string", () => {
    const result = StringMapSchema.safeParse(JSON.parse('{"__proto__":{"A":"1"}}'));
    expect(result.success ? [] : result.error.issues.map(({ code, path }) => ({ code, path }))).toEqual([
      { code: "invalid_type", path: ["__proto__"] },
    ]);
  });
});
