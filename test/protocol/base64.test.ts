import { describe, expect, test } from "bun:test";
import { base64Problem, decodeBase64, encodeBase64 } from "../../src/protocol/mod.ts";

/** A xorshift generator, so that a failure names the seed it came from. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Mostly base64 letters, with the characters a lenient decoder would skip or misread. */
const MIXED = ALPHABET + ALPHABET + "==== -_\n\t$é";

describe("decodeBase64", () => {
  test("decodeBase64 refuses exactly what base64Problem names, and decodes the rest as node:buffer does", () => {
    const seed = 20;
    const next = random(seed);
    const failures: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(next() * 14);
      let text = "";
      for (let j = 0; j < length; j++) text += MIXED[Math.floor(next() * MIXED.length)];
      const problem = base64Problem(text);
      let outcome: string;
      try {
        const bytes = decodeBase64(text);
        outcome = problem === null && Buffer.from(bytes).equals(Buffer.from(text, "base64"))
          ? "ok"
          : `decoded ${JSON.stringify(text)} (problem ${problem})`;
      } catch (error) {
        outcome = problem !== null && error instanceof TypeError && error.message === problem
          ? "ok"
          : `refused ${JSON.stringify(text)}: ${String(error)} (problem ${problem})`;
      }
      if (outcome !== "ok") failures.push(outcome);
    }
    expect({ seed, failures: failures.slice(0, 5) }).toEqual({ seed, failures: [] });
  });

  // RFC 4648 §3.5: the bits a last partial group leaves unused are zero in the one encoding of
  // those bytes. The Codex reference refuses others ("Invalid last symbol"); so does this server.
  test.each([["YW==", 1], ["YR", 1], ["YWJ=", 2], ["Zm9vYh==", 5], ["Zm9vYmF=", 6]])(
    "decodeBase64 refuses %p, whose last character has unused bits set",
    (text, position) => {
      expect(base64Problem(text)).toBe(`non-zero unused bits in the last character at position ${position}`);
      expect(() => decodeBase64(text)).toThrow(
        `non-zero unused bits in the last character at position ${position}`,
      );
    },
  );

  test.each(["YQ==", "YQ", "YWI=", "YWI", "Zm9vYmE=", ""])(
    "decodeBase64 accepts the canonical %p",
    (text) => {
      expect(base64Problem(text)).toBeNull();
      expect(Buffer.from(decodeBase64(text)).toString("base64").replace(/=+$/, "")).toBe(
        text.replace(/=+$/, ""),
      );
    },
  );

  test("decodeBase64 into given memory refuses and decodes exactly as into a fresh array", () => {
    const seed = 21;
    const next = random(seed);
    const failures: string[] = [];
    let given = 0;
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(next() * 14);
      let text = "";
      for (let j = 0; j < length; j++) text += MIXED[Math.floor(next() * MIXED.length)];
      let plain: string;
      try {
        plain = `ok ${Buffer.from(decodeBase64(text)).toString("hex")}`;
      } catch (error) {
        plain = `refused ${String(error)}`;
      }
      let memory: Uint8Array | null = null;
      let into: string;
      try {
        const bytes = decodeBase64(text, (byteLength) => (memory = new Uint8Array(byteLength).fill(7)));
        if (bytes === memory) given++;
        into = `ok ${Buffer.from(bytes).toString("hex")}`;
      } catch (error) {
        into = `refused ${String(error)}`;
      }
      if (into !== plain) failures.push(`${JSON.stringify(text)}: ${into} against ${plain}`);
    }
    expect({ seed, failures: failures.slice(0, 5) }).toEqual({ seed, failures: [] });
    // Both runtimes decode into given memory (`Uint8Array.prototype.setFromBase64`).
    expect(given).toBeGreaterThan(1000);
  });

  test("decodeBase64 decodes into a fresh array when the memory given is not of the decoded length", () => {
    const text = encodeBase64(new Uint8Array([1, 2, 3, 4, 5]));
    const wrong = new Uint8Array(8);
    const bytes = decodeBase64(text, () => wrong);
    expect(bytes).not.toBe(wrong);
    expect([...bytes]).toEqual([1, 2, 3, 4, 5]);
  });

  test("decodeBase64 reads what encodeBase64 writes, padded or not", () => {
    const bytes = new Uint8Array(Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff));
    for (const length of [0, 1, 2, 3, 4, 5, 999, 1000]) {
      const text = encodeBase64(bytes.subarray(0, length));
      expect([...decodeBase64(text)]).toEqual([...bytes.subarray(0, length)]);
      expect([...decodeBase64(text.replace(/=+$/, ""))]).toEqual([...bytes.subarray(0, length)]);
    }
  });
});
