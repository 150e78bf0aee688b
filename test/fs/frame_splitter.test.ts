import { describe, expect, test } from "bun:test";
import { FrameSplitter, LineSplitter, LineWriter } from "../../src/fs/mod.ts";
import type { Frame } from "../../src/fs/mod.ts";
import { resultFrame, withKnownJson } from "../../src/rpc/mod.ts";

const UTF8 = new TextEncoder();

/** A header of the test framing: `{"n":<payload length or null>}`. */
interface Header {
  readonly n: number | null;
}

function splitter(): FrameSplitter<Header> {
  return new FrameSplitter<Header>({
    parseHeader(line) {
      const value: unknown = JSON.parse(line);
      if (typeof value !== "object" || value === null || !("n" in value)) {
        throw new Error(`bad header ${line}`);
      }
      const n = value.n;
      if (n !== null && typeof n !== "number") throw new Error(`bad header ${line}`);
      return { n };
    },
    payloadBytes: (header) => header.n,
  });
}

function streamOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function frames(
  chunks: readonly Uint8Array[],
): Promise<{ n: number | null; payload: number[] | null }[]> {
  const out: Frame<Header>[] = await Array.fromAsync(streamOf(chunks).pipeThrough(splitter()));
  return out.map(({ header, payload }) => ({ n: header.n, payload: payload === null ? null : [...payload] }));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

/** Bytes 0..n-1 of a pattern that contains newlines, so a payload is never searched for one. */
function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 37 + 10) & 0xff);
}

/** A stream of three frames: a header alone, a header with a payload full of `\n`, an empty payload. */
const STREAM = concat([
  UTF8.encode('{"n":null}\n'),
  UTF8.encode('{"n":5}\n'),
  pattern(5),
  UTF8.encode('\n{"n":0}\n'),
]);
const EXPECTED = [
  { n: null, payload: null },
  { n: 5, payload: [...pattern(5)] },
  { n: 0, payload: [] },
];

describe("FrameSplitter", () => {
  test("splits headers and payloads in one chunk", async () => {
    expect(await frames([STREAM])).toEqual(EXPECTED);
  });

  test("gives the same frames when the stream is cut at any one byte", async () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const got = await frames([STREAM.subarray(0, cut), STREAM.subarray(cut)]);
      expect({ cut, got }).toEqual({ cut, got: EXPECTED });
    }
  });

  test("gives the same frames when every byte is its own chunk", async () => {
    expect(await frames([...STREAM].map((byte) => Uint8Array.of(byte)))).toEqual(EXPECTED);
  });

  test("gives the same frames when the stream is cut at any two bytes", async () => {
    for (let first = 0; first <= STREAM.length; first++) {
      for (let second = first; second <= STREAM.length; second++) {
        const chunks = [STREAM.subarray(0, first), STREAM.subarray(first, second), STREAM.subarray(second)];
        expect({ first, second, got: await frames(chunks) }).toEqual({ first, second, got: EXPECTED });
      }
    }
  });

  test("carries a large payload across many chunks of odd sizes intact", async () => {
    const size = 5 * 1024 * 1024 + 3;
    const payload = pattern(size);
    const whole = concat([UTF8.encode(`{"n":${size}}\n`), payload, UTF8.encode('{"n":null}\n')]);
    const chunks: Uint8Array[] = [];
    // Chunk sizes cycle through awkward values so borders fall everywhere in header and payload.
    for (
      let offset = 0, step = 1;
      offset < whole.length;
      offset += step, step = (step * 7 + 3) % 65_537 + 1
    ) {
      chunks.push(whole.subarray(offset, offset + step));
    }
    const out = await Array.fromAsync(streamOf(chunks).pipeThrough(splitter()));
    expect(out.length).toBe(2);
    expect(out[0]?.header).toEqual({ n: size });
    expect(Buffer.from(out[0]?.payload ?? new Uint8Array(0)).equals(Buffer.from(payload))).toBe(true);
    expect(out[1]).toEqual({ header: { n: null }, payload: null });
  });

  test("skips empty lines between frames", async () => {
    expect(await frames([UTF8.encode('\n\n{"n":null}\n\n')])).toEqual([{ n: null, payload: null }]);
  });

  test("errors the stream with the header parser's error on garbage", async () => {
    const stream = streamOf([UTF8.encode('{"n":null}\ngarbage\n{"n":null}\n')]).pipeThrough(splitter());
    const seen: Frame<Header>[] = [];
    const failure = await (async () => {
      for await (const frame of stream) seen.push(frame);
    })().then(() => null, (error: unknown) => error);
    expect(seen).toEqual([{ header: { n: null }, payload: null }]);
    expect(failure).toBeInstanceOf(SyntaxError);
  });

  test("drops a payload that the end of the stream cuts short", async () => {
    expect(await frames([UTF8.encode('{"n":null}\n{"n":10}\nabc')])).toEqual([{ n: null, payload: null }]);
  });

  test("drops an unterminated last header", async () => {
    expect(await frames([UTF8.encode('{"n":null}\n{"n":nu')])).toEqual([{ n: null, payload: null }]);
  });

  test("emits nothing for an empty stream", async () => {
    expect(await frames([])).toEqual([]);
  });
});

describe("LineSplitter", () => {
  test("gives the same lines when the stream is cut at any one byte", async () => {
    const whole = UTF8.encode('{"a":"é😀"}\r\n\nlong line ' + "x".repeat(100) + "\nlast");
    const expected = ['{"a":"é😀"}', "", "long line " + "x".repeat(100), "last"];
    for (let cut = 0; cut <= whole.length; cut++) {
      const chunks = [whole.subarray(0, cut), whole.subarray(cut)];
      const got = await Array.fromAsync(streamOf(chunks).pipeThrough(new LineSplitter()));
      expect({ cut, got }).toEqual({ cut, got: expected });
    }
  });

  test("joins a line spread over many chunks once", async () => {
    const line = "y".repeat(3 * 1024 * 1024);
    const whole = UTF8.encode(`${line}\nz\n`);
    const chunks: Uint8Array[] = [];
    for (let offset = 0; offset < whole.length; offset += 65_536) {
      chunks.push(whole.subarray(offset, offset + 65_536));
    }
    expect(await Array.fromAsync(streamOf(chunks).pipeThrough(new LineSplitter()))).toEqual([line, "z"]);
  });
});

describe("LineWriter", () => {
  test("writes each payload right after its line, in order, without interleaving", async () => {
    const written: Uint8Array[] = [];
    const writer = new LineWriter((data) => {
      written.push(data.slice());
      return Promise.resolve();
    });
    await Promise.all([
      writer.write('{"n":null}'),
      writer.write('{"n":3}', Uint8Array.of(10, 10, 10)),
      writer.write('{"n":0}', new Uint8Array(0)),
      writer.write('{"n":null}'),
    ]);
    expect(await frames(written)).toEqual([
      { n: null, payload: null },
      { n: 3, payload: [10, 10, 10] },
      { n: 0, payload: [] },
      { n: null, payload: null },
    ]);
  });

  test("rejects every waiter of a batch whose sink fails", async () => {
    const writer = new LineWriter(() => Promise.reject(new Error("pipe broke")));
    const settled = await Promise.allSettled([writer.write("a", Uint8Array.of(1)), writer.write("b")]);
    expect(settled.map((outcome) => outcome.status === "rejected" ? String(outcome.reason) : "written"))
      .toEqual(["Error: pipe broke", "Error: pipe broke"]);
  });
});

describe("resultFrame with known JSON", () => {
  test("splices the known text and matches JSON.stringify of the object", () => {
    const result = { dataBase64: "aGk=" };
    const known = withKnownJson({ dataBase64: "aGk=" }, JSON.stringify(result));
    for (const jsonrpc of [false, true]) {
      for (const id of [7, 'x"y']) {
        expect(resultFrame(id, known, jsonrpc)).toBe(resultFrame(id, result, jsonrpc));
      }
    }
  });
});
