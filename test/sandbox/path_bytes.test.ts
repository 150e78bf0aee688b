/**
 * Names as the kernel has them: bytes that are not UTF-8 survive a string and come back whole.
 */
import { describe, expect, test } from "bun:test";
import { cPathBytes, decodePathBytes, encodePathBytes } from "../../src/launcher/path_bytes.ts";

describe("path bytes", () => {
  test("decodes UTF-8 as UTF-8, and each stray byte as the lone surrogate of that byte", () => {
    expect(decodePathBytes(new TextEncoder().encode("/tmp/é ☃ 😀\n"))).toBe("/tmp/é ☃ 😀\n");
    // A lone continuation byte, a truncated character, an overlong slash, an encoded surrogate.
    const bytes = Uint8Array.of(0x2f, 0x80, 0x61, 0xe2, 0x98, 0x2f, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff);
    expect(decodePathBytes(bytes)).toBe("/\udc80a\udce2\udc98/\udcc0\udcaf\udced\udca0\udc80\udcff");
  });

  test("encodes a decoded name back into its very bytes", () => {
    const cases = [
      Uint8Array.of(0x2f, 0x80, 0x61, 0xe2, 0x98, 0x2f, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff),
      Uint8Array.of(0x2f, 0xf4, 0x90, 0x80, 0x80, 0xc3, 0xa9, 0xf0, 0x9f, 0x98),
      new TextEncoder().encode("/w/in/s\nx"),
    ];
    for (const bytes of cases) expect([...encodePathBytes(decodePathBytes(bytes))]).toEqual([...bytes]);
    expect([...cPathBytes("/\udcff")]).toEqual([0x2f, 0xff, 0]);
  });

  test("encodes any other string as its UTF-8", () => {
    expect([...encodePathBytes("/é")]).toEqual([0x2f, 0xc3, 0xa9]);
    // A lone surrogate outside the escapes is what TextEncoder makes of it, U+FFFD.
    expect([...encodePathBytes("/\ud800")]).toEqual([0x2f, 0xef, 0xbf, 0xbd]);
  });
});
