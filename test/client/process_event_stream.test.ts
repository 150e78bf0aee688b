import { describe, expect, test } from "bun:test";
import { ClientError } from "../../src/client/mod.ts";
import type { ProcessEvent } from "../../src/client/mod.ts";
import { ProcessEventStream } from "../../src/client/process_event_stream.ts";
import { encodeBase64 } from "../../src/protocol/mod.ts";
import type { ProcessReadResult } from "../../src/protocol/mod.ts";

const ID = "p";

function output(seq: number, text: string) {
  return {
    method: "process/output",
    params: { processId: ID, seq, stream: "stdout" },
    data: new TextEncoder().encode(text),
  } as const;
}

function chunk(seq: number, text: string) {
  return { seq, stream: "stdout", chunk: encodeBase64(new TextEncoder().encode(text)) } as const;
}

function read(overrides: Partial<ProcessReadResult>): ProcessReadResult {
  return {
    chunks: [],
    nextSeq: 1,
    exited: false,
    exitCode: null,
    closed: false,
    failure: null,
    sandboxDenied: false,
    droppedBytes: 0,
    ...overrides,
  };
}

/** A stream whose log answers from `answers` in turn, recording each read's afterSeq. */
function streamWith(answers: ProcessReadResult[]): { stream: ProcessEventStream; reads: number[] } {
  const reads: number[] = [];
  const stream = new ProcessEventStream({
    readLog: (afterSeq) => {
      reads.push(afterSeq);
      const answer = answers.shift();
      return answer === undefined ? Promise.reject(new Error("no more reads")) : Promise.resolve(answer);
    },
    onClosed: () => {},
  });
  return { stream, reads };
}

async function collect(stream: ProcessEventStream): Promise<unknown[]> {
  const seen: unknown[] = [];
  for await (const event of stream as AsyncIterable<ProcessEvent>) {
    seen.push(event.type === "output" ? [event.seq, new TextDecoder().decode(event.data)] : event);
  }
  return seen;
}

describe("ProcessEventStream", () => {
  test("ProcessEventStream yields notifications in seq order, each once, and ends at closed", async () => {
    const { stream, reads } = streamWith([]);
    stream.started();
    stream.notification(output(1, "a"));
    stream.notification(output(1, "a"));
    stream.notification({
      method: "process/exited",
      params: { processId: ID, seq: 2, exitCode: 0, sandboxDenied: false },
    });
    stream.notification({ method: "process/closed", params: { processId: ID, seq: 3 } });
    expect(await collect(stream)).toEqual([
      [1, "a"],
      { type: "exited", seq: 2, exitCode: 0, sandboxDenied: false, timedOut: false },
      { type: "closed", seq: 3 },
    ]);
    expect(reads).toEqual([]);
  });

  test("ProcessEventStream fills a gap from the log and places the exit between chunks", async () => {
    const { stream, reads } = streamWith([
      read({ chunks: [chunk(2, "b"), chunk(4, "d")], nextSeq: 5, exited: true, exitCode: 3, closed: true }),
    ]);
    stream.started();
    stream.notification(output(1, "a"));
    stream.notification({ method: "process/closed", params: { processId: ID, seq: 5 } });
    expect(await collect(stream)).toEqual([
      [1, "a"],
      [2, "b"],
      { type: "exited", seq: 3, exitCode: 3, sandboxDenied: false, timedOut: false },
      [4, "d"],
      { type: "closed", seq: 5 },
    ]);
    // The early `closed` (seq 5) follows the last chunk read, so one read closes the gap.
    expect(reads).toEqual([1]);
  });

  test("ProcessEventStream places exited and closed that only the log's flags report", async () => {
    const { stream } = streamWith([read({ nextSeq: 4, exited: true, exitCode: 0, closed: true })]);
    stream.started();
    stream.notification(output(1, "a"));
    stream.resync();
    expect(await collect(stream)).toEqual([
      [1, "a"],
      { type: "exited", seq: 2, exitCode: 0, sandboxDenied: false, timedOut: false },
      { type: "closed", seq: 3 },
    ]);
  });

  test("ProcessEventStream reports output the log dropped as a hole", async () => {
    const { stream } = streamWith([
      read({ chunks: [chunk(4, "d")], nextSeq: 5, droppedBytes: 20 }),
      read({ nextSeq: 5, droppedBytes: 20 }),
    ]);
    stream.started();
    stream.notification(output(1, "a"));
    stream.resync();
    stream.notification({ method: "process/closed", params: { processId: ID, seq: 5 } });
    expect(await collect(stream)).toEqual([[1, "a"], { type: "dropped", droppedBytes: 20 }, [4, "d"], {
      type: "closed",
      seq: 5,
    }]);
  });

  test("ProcessEventStream reads nothing before the start is answered", () => {
    const { stream, reads } = streamWith([read({ nextSeq: 1 })]);
    stream.resync();
    stream.notification(output(2, "b"));
    expect(reads).toEqual([]);
    stream.started();
    expect(reads).toEqual([0]);
    stream.end();
  });

  test("ProcessEventStream ends with the failure once the queue is read", async () => {
    const { stream } = streamWith([]);
    stream.notification(output(1, "a"));
    stream.fail(new Error("session lost"));
    const seen: unknown[] = [];
    const error = await (async () => {
      try {
        for await (const event of stream) seen.push(event.type);
      } catch (failure) {
        return failure;
      }
      return null;
    })();
    expect([seen, error]).toEqual([["output"], new Error("session lost")]);
  });
  test("ProcessEventStream fails with badReply when the log answers chunks it already has", async () => {
    // A server that ignores afterSeq: every read gives seq 1 again. Past 100 reads the stand-in log
    // gives up, so a stream that keeps asking fails with that instead of spinning.
    let reads = 0;
    const stream = new ProcessEventStream({
      readLog: () =>
        ++reads > 100
          ? Promise.reject(new Error("asked 100 times"))
          : Promise.resolve(read({ chunks: [chunk(1, "a")], nextSeq: 2 })),
      onClosed: () => {},
    });
    stream.started();
    stream.notification(output(1, "a"));
    stream.notification(output(3, "c"));
    const seen: unknown[] = [];
    let failure: unknown = null;
    try {
      for await (const event of stream as AsyncIterable<ProcessEvent>) seen.push(event.type);
    } catch (error) {
      failure = error;
    }
    expect(seen).toEqual(["output"]);
    expect(failure).toBeInstanceOf(ClientError);
    expect(failure).toMatchObject({ reason: "badReply" });
    expect(reads).toBe(1);
  });
  test("ProcessEventStream counts each held chunk's own cost, so one-byte chunks stop well before millions", async () => {
    // 700,000 one-byte chunks are 0.7 MB of output but some 100 MB of objects: the mark (64 MiB)
    // is passed on the way, the rest is skipped, and the log supplies what follows.
    const chunks = 700_000;
    const { stream, reads } = streamWith([read({ nextSeq: chunks + 2, exited: false, closed: true })]);
    stream.started();
    for (let seq = 1; seq <= chunks; seq++) stream.notification(output(seq, "x"));
    stream.notification({ method: "process/closed", params: { processId: ID, seq: chunks + 1 } });
    let outputs = 0;
    let last: ProcessEvent | null = null;
    for await (const event of stream as AsyncIterable<ProcessEvent>) {
      if (event.type === "output") outputs++;
      last = event;
    }
    expect(last).toMatchObject({ type: "closed", seq: chunks + 1 });
    expect(reads).toHaveLength(1);
    expect(outputs).toBeLessThan(600_000);
    expect(reads[0]).toBe(outputs);
  });
  test("ProcessEventStream asks the log for no more one-byte chunks than its mark holds when it catches up", async () => {
    // A resumed stream reads back what it missed. The log counts a read's bytes, and 700,000
    // one-byte chunks are 0.7 MB, well within one read, but some 90 MiB here: a read that asked
    // for megabytes took them all at once, past the mark (64 MiB).
    const chunks = 700_000;
    const mark = 64 * 1024 * 1024;
    const costOfOne = 1 + 128;
    let handedOut = 0;
    let outputs = 0;
    let mostHeld = 0;
    const stream = new ProcessEventStream({
      readLog: (afterSeq, maxBytes) => {
        const count = Math.max(1, Math.min(maxBytes, chunks - afterSeq));
        const answer = afterSeq >= chunks
          ? read({ nextSeq: chunks + 2, exited: true, exitCode: 0, closed: true })
          : read({ chunks: Array.from({ length: count }, (_, index) => chunk(afterSeq + index + 1, "x")) });
        if (afterSeq < chunks) handedOut += count;
        mostHeld = Math.max(mostHeld, handedOut - outputs);
        return Promise.resolve(answer);
      },
      onClosed: () => {},
    });
    stream.started();
    stream.resync();
    let last: ProcessEvent | null = null;
    for await (const event of stream as AsyncIterable<ProcessEvent>) {
      if (event.type === "output") outputs++;
      last = event;
    }
    expect(last).toMatchObject({ type: "closed", seq: chunks + 2 });
    expect(outputs).toBe(chunks);
    // Counted here as handed out less read, which lags the stream's own count by the event or two
    // on their way to the reader.
    expect(mostHeld * costOfOne).toBeLessThanOrEqual(mark + 4 * costOfOne);
  });
});
