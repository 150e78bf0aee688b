import { describe, expect, test } from "bun:test";
import type { Stats } from "node:fs";
import { PassedHeaders } from "../../src/process/passed_headers.ts";

const NOW = 1_000_000;

/** The stat fields the cache compares, of a file last changed `ageMs` before NOW. */
function statOf(ageMs: number, change: Partial<Stats> = {}): Stats {
  return { dev: 1, ino: 2, size: 3, mtimeMs: NOW - ageMs, ctimeMs: NOW - ageMs, ...change } as Stats;
}

describe("PassedHeaders", () => {
  test("answers for the file whose header passed while its identity and stamps are unchanged", () => {
    const headers = new PassedHeaders(() => NOW);
    expect(headers.executable("/bin/x", statOf(60_000))).toBe(false);
    headers.remember("/bin/x", statOf(60_000));
    expect(headers.executable("/bin/x", statOf(60_000))).toBe(true);
    expect(headers.executable("/bin/y", statOf(60_000))).toBe(false);
  });

  test("forgets a pass once the file is another file or was written since", () => {
    for (const change of [{ ino: 9 }, { dev: 9 }, { size: 9 }, { mtimeMs: NOW - 1 }, { ctimeMs: NOW - 1 }]) {
      const headers = new PassedHeaders(() => NOW);
      headers.remember("/bin/x", statOf(60_000));
      expect(headers.executable("/bin/x", statOf(60_000, change))).toBe(false);
      // Forgotten, not just unmatched: the old file back under the name is read again.
      expect(headers.executable("/bin/x", statOf(60_000))).toBe(false);
    }
  });

  test("keeps nothing of a file changed within the last two seconds, whose stamps may not move again", () => {
    const headers = new PassedHeaders(() => NOW);
    headers.remember("/bin/x", statOf(1_999));
    expect(headers.executable("/bin/x", statOf(1_999))).toBe(false);
    headers.remember("/bin/x", statOf(60_000, { mtimeMs: NOW + 5_000 }));
    expect(headers.executable("/bin/x", statOf(60_000, { mtimeMs: NOW + 5_000 }))).toBe(false);
  });

  test("keeps at most 256 programs, dropping the oldest", () => {
    const headers = new PassedHeaders(() => NOW);
    for (let i = 0; i <= 256; i++) headers.remember(`/bin/p${i}`, statOf(60_000));
    expect(headers.executable("/bin/p0", statOf(60_000))).toBe(false);
    expect(headers.executable("/bin/p1", statOf(60_000))).toBe(true);
    expect(headers.executable("/bin/p256", statOf(60_000))).toBe(true);
  });
});
