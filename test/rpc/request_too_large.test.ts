import { describe, expect, test } from "bun:test";
import { utf8LengthAbove } from "../../src/rpc/request_too_large.ts";

describe("utf8LengthAbove", () => {
  test("counts UTF-8 bytes only where a text may pass the limit, and agrees with TextEncoder", () => {
    for (
      const text of ["abc", "é".repeat(10), "€".repeat(10), "😀".repeat(10), "a\uD800b", "\uDC00".repeat(3)]
    ) {
      const bytes = new TextEncoder().encode(text).byteLength;
      expect(utf8LengthAbove(text, bytes)).toBeNull();
      expect(utf8LengthAbove(text, bytes - 1)).toBe(bytes);
    }
  });
});
