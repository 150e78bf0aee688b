import { describe, expect, test } from "bun:test";
import { chunkReader } from "../../src/runtime/chunk_reader.ts";
import type { ChunkReader } from "../../src/runtime/chunk_reader.ts";

/** 300 KiB and one byte of a pattern that no two offsets 64 KiB apart share. */
const SOURCE = Uint8Array.from({ length: 300 * 1024 + 1 }, (_, index) => index % 251);

/** `source` as a byte stream (a Deno pipe's kind) that answers each read with at most `step` bytes. */
function byteStream(source: Uint8Array, step: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      const request = controller.byobRequest;
      const count = Math.min(step, source.length - offset, request?.view?.byteLength ?? step);
      if (count === 0) {
        controller.close();
        request?.respond(0);
        return;
      }
      if (request?.view) {
        new Uint8Array(request.view.buffer, request.view.byteOffset, count).set(
          source.subarray(offset, offset + count),
        );
        request.respond(count);
      } else {
        controller.enqueue(source.slice(offset, offset + count));
      }
      offset += count;
    },
  });
}

/** `source` as a stream without byte source (a Bun pipe's kind), `step` bytes per chunk. */
function plainStream(source: Uint8Array, step: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= source.length) return controller.close();
      controller.enqueue(source.slice(offset, offset + step));
      offset += step;
    },
  });
}

/** Reads to the end as the pump does: each chunk copied out at once, then recycled. */
async function drain(reader: ChunkReader): Promise<Uint8Array> {
  const copies: number[] = [];
  for (;;) {
    const result = await reader.read();
    if (result.done) return Uint8Array.from(copies);
    copies.push(...result.value);
    reader.recycle(result.value);
  }
}

/** A chunk read from `reader`, which must not be at its end. */
async function chunkOf(reader: ChunkReader): Promise<Uint8Array> {
  const result = await reader.read();
  if (result.done) throw new Error("the stream ended early");
  return result.value;
}

/** Whether the memory under `chunk` has been handed to a read. */
function detached(chunk: Uint8Array): boolean {
  return chunk.buffer instanceof ArrayBuffer && chunk.buffer.detached;
}

describe("chunkReader", () => {
  test("reads a byte stream whole while every chunk is recycled", async () => {
    expect(await drain(chunkReader(byteStream(SOURCE, 40_000)))).toEqual(SOURCE);
  });

  test("reads a stream without byte source whole", async () => {
    expect(await drain(chunkReader(plainStream(SOURCE, 40_000)))).toEqual(SOURCE);
  });

  test("the next read of a byte stream takes the memory of a recycled chunk", async () => {
    const reader = chunkReader(byteStream(SOURCE, 40_000));
    const recycled = await chunkOf(reader);
    reader.recycle(recycled);
    await chunkOf(reader);
    const kept = await chunkOf(reader);
    await chunkOf(reader);
    // A read transfers the memory it is given, which detaches every view of it.
    expect({ recycled: detached(recycled), kept: detached(kept) }).toEqual({
      recycled: true,
      kept: false,
    });
  });

  test("a chunk of a stream without byte source stays intact once recycled", async () => {
    const reader = chunkReader(plainStream(SOURCE, 40_000));
    const recycled = await chunkOf(reader);
    reader.recycle(recycled);
    await chunkOf(reader);
    expect(recycled).toEqual(SOURCE.subarray(0, 40_000));
  });

  test("a chunk recycled twice goes to one read, not two", async () => {
    const first = chunkReader(byteStream(SOURCE, 40_000));
    const twice = await chunkOf(first);
    first.recycle(twice);
    first.recycle(twice);
    // Two reads of different streams, both held: shared memory would let the second overwrite the first.
    const fromFirst = await chunkOf(first);
    const fromSecond = await chunkOf(chunkReader(byteStream(SOURCE.subarray(1000), 40_000)));
    expect([fromFirst, fromSecond]).toEqual([SOURCE.subarray(40_000, 80_000), SOURCE.subarray(1000, 41_000)]);
  });
});
