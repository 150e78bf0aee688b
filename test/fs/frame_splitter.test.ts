import { describe, expect, test } from "bun:test";
import { FrameSplitter, LineSplitter, LineWriter } from "../../src/fs/mod.ts";
import type { Frame } from "../../src/fs/mod.ts";
import { resultFrame, withKnownJson } from "../../src/rpc/mod.ts";

const UTF8 = new TextEncoder();

/** A header of the test framing: `{"n":<payload length or null>}`. */
interface Header {
  readonly n: number | null;
}

/** The limits of the bounded splitter: what the error names, and where it comes. */
const LIMITS = {
  maxHeaderLength: 1000,
  maxPayloadBytes: 100,
  tooLarge: (detail: string) => new RangeError(detail),
};

function splitter(limits?: typeof LIMITS): FrameSplitter<Header> {
  return new FrameSplitter<Header>({
    ...(limits === undefined ? {} : { limits }),
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

/**
 * A stream of `chunks` that then stays open without another byte, as a worker that stalls does;
 * `pulled()` tells how many bytes the reader has taken so far.
 */
function stalling(
  chunks: readonly Uint8Array[],
): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let next = 0;
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[next++];
      if (chunk === undefined) return new Promise<void>(() => {});
      pulled += chunk.length;
      controller.enqueue(chunk);
      return undefined;
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => pulled };
}

/** The error a stream of frames ends with. */
async function failureOf(stream: ReadableStream<Frame<Header>>): Promise<unknown> {
  return await (async () => {
    for await (const _frame of stream) {
      // Only the end matters.
    }
  })().then(() => null, (error: unknown) => error);
}

describe("FrameSplitter with limits", () => {
  test("errors the stream as soon as a header line passes maxHeaderLength, reading no further", async () => {
    const chunk = UTF8.encode("x".repeat(100));
    const source = stalling([UTF8.encode('{"n":null}\n{"n":null,"s":"'), ...Array(40).fill(chunk)]);
    const failure = await failureOf(source.stream.pipeThrough(splitter(LIMITS)));
    expect(failure).toEqual(new RangeError("a line of more than 1000 characters"));
    // The chunk that passed the bound is the last one taken: a header and the line's first 15
    // bytes, then ten chunks of 100.
    expect(source.pulled()).toBe(11 + 15 + 1000);
  });

  test("measures a header line in UTF-16 units once decoded, wherever its chunks are cut", async () => {
    const line = `{"n":null,"s":"${"é中😀".repeat(30)}"}`;
    const bytes = UTF8.encode(`${line}\n`);
    // Counted in bytes, it would be refused at both limits.
    expect(bytes.length).toBeGreaterThan(2 * line.length);
    const chunks = Array.from(
      { length: Math.ceil(bytes.length / 7) },
      (_, i) => bytes.subarray(i * 7, i * 7 + 7),
    );
    const fits = await Array.fromAsync(
      streamOf(chunks).pipeThrough(splitter({ ...LIMITS, maxHeaderLength: line.length })),
    );
    expect(fits).toEqual([{ header: { n: null }, payload: null }]);
    const over = streamOf(chunks).pipeThrough(splitter({ ...LIMITS, maxHeaderLength: line.length - 1 }));
    expect(await failureOf(over)).toEqual(
      new RangeError(`a line of more than ${line.length - 1} characters`),
    );
  });

  test("errors the stream at a header announcing more than maxPayloadBytes, before any of it", async () => {
    const source = stalling([UTF8.encode('{"n":100}\n'), pattern(100), UTF8.encode('{"n":101}\n')]);
    const frames: Frame<Header>[] = [];
    const failure = await (async () => {
      for await (const frame of source.stream.pipeThrough(splitter(LIMITS))) frames.push(frame);
    })().then(() => null, (error: unknown) => error);
    expect(frames).toEqual([{ header: { n: 100 }, payload: pattern(100) }]);
    expect(failure).toEqual(new RangeError("101 bytes of data, more than 100"));
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
