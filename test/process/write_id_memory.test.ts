/**
 * What a process remembers of its `writeId`s (§5.7): each id writes once, long ids are kept by
 * their digest, and no two ids share what they are remembered by, lone surrogates included.
 */
import { describe, expect, test } from "bun:test";
import { WriteIdMemory } from "../../src/process/write_id_memory.ts";
import type { WriteStatus } from "../../src/protocol/mod.ts";

/** Writes `id` through `memory`; says whether the write itself ran, and its answer. */
async function writeWith(
  memory: WriteIdMemory,
  id: string,
): Promise<{ wrote: boolean; status: WriteStatus }> {
  let wrote = false;
  const status = await memory.writeOnce(id, () => {
    wrote = true;
    return Promise.resolve("accepted");
  });
  return { wrote, status };
}

const LONG = "w".repeat(100);

describe("WriteIdMemory", () => {
  test("an accepted id, short or long, writes once", async () => {
    const memory = new WriteIdMemory(8);
    for (const id of ["k", `${LONG}k`, `\uD800${LONG}`]) {
      expect(await writeWith(memory, id)).toEqual({ wrote: true, status: "accepted" });
      expect(await writeWith(memory, id)).toEqual({ wrote: false, status: "accepted" });
    }
  });

  test("long ids that differ only where one holds a lone surrogate are different ids", async () => {
    const memory = new WriteIdMemory(16);
    // U+FFFD is what an encoder puts in a lone surrogate's place; JSON-like escapes spell one.
    const ids = [
      `\uD800${LONG}`,
      `\uDC00${LONG}`,
      `\uFFFD${LONG}`,
      `\\ud800${LONG}`,
      `"\\ud800${LONG}"`,
      `\uD83D\uDE00${LONG}`,
      `\uDE00\uD83D${LONG}`,
    ];
    for (const id of ids) expect(await writeWith(memory, id)).toEqual({ wrote: true, status: "accepted" });
    for (const id of ids) expect((await writeWith(memory, id)).wrote).toBe(false);
  });

  test("a repeat of a write that still waits gets that write's answer and writes nothing", async () => {
    const memory = new WriteIdMemory(8);
    let answer: (status: WriteStatus) => void = () => {};
    const first = memory.writeOnce(`${LONG}p`, () => new Promise((resolve) => answer = resolve));
    const again = await Promise.race([writeWith(memory, `${LONG}p`), Promise.resolve("waiting" as const)]);
    expect(again).toBe("waiting");
    const repeat = writeWith(memory, `${LONG}p`);
    answer("stdinClosed");
    expect(await first).toBe("stdinClosed");
    expect(await repeat).toEqual({ wrote: false, status: "stdinClosed" });
    // A refused write is not remembered: the id writes again.
    expect(await writeWith(memory, `${LONG}p`)).toEqual({ wrote: true, status: "accepted" });
  });

  test("past its capacity the oldest accepted id is forgotten", async () => {
    const memory = new WriteIdMemory(2);
    for (const id of ["a", `${LONG}b`, "c"]) await writeWith(memory, id);
    expect((await writeWith(memory, "a")).wrote).toBe(true);
    expect((await writeWith(memory, "c")).wrote).toBe(false);
  });
});
