import { describe, expect, test } from "bun:test";
import { InputBuffers } from "../../src/process/input_buffers.ts";

describe("InputBuffers", () => {
  test("a write of half a buffer to a whole one gets memory of exactly its length; others get none", () => {
    const buffers = new InputBuffers();
    expect(buffers.take(32_767)).toBeNull();
    expect(buffers.take(65_537)).toBeNull();
    expect(buffers.take(32_768)?.byteLength).toBe(32_768);
    expect(buffers.take(65_536)?.byteLength).toBe(65_536);
  });

  test("memory given back takes a later write, and memory from elsewhere is left alone", () => {
    const buffers = new InputBuffers();
    const first = buffers.take(65_536);
    if (first === null) throw new Error("no memory");
    buffers.give(new Uint8Array(65_536));
    expect(buffers.pooled).toBe(0);
    buffers.give(first);
    buffers.give(first);
    expect(buffers.pooled).toBe(1);
    expect(buffers.take(40_000)?.buffer).toBe(first.buffer);
    expect(buffers.pooled).toBe(0);
  });

  test("the pool keeps at most 32 buffers", () => {
    const buffers = new InputBuffers();
    const taken = Array.from({ length: 40 }, () => buffers.take(65_536));
    for (const bytes of taken) if (bytes !== null) buffers.give(bytes);
    expect(buffers.pooled).toBe(32);
  });
});
