import { describe, expect, test } from "bun:test";
import { OutputLog } from "../../src/process/mod.ts";

/** A log with `count` chunks of `size` bytes each ("c1", "c2", … as their base64 stand-in). */
function logWith(count: number, size: number, limit = 1_048_576): OutputLog {
  const log = new OutputLog(limit);
  for (let i = 1; i <= count; i++) log.appendChunk("stdout", `c${i}`, size);
  return log;
}

function chunk(seq: number): { seq: number; stream: "stdout"; chunk: string } {
  return { seq, stream: "stdout", chunk: `c${seq}` };
}

describe("OutputLog", () => {
  test("OutputLog numbers chunks, exited and closed in one gap-free sequence from 1", () => {
    const log = new OutputLog(1_048_576);
    expect(log.appendChunk("stdout", "a", 1).seq).toBe(1);
    expect(log.appendChunk("stderr", "b", 1).seq).toBe(2);
    expect(log.appendExited()).toBe(3);
    expect(log.appendChunk("stdout", "c", 1).seq).toBe(4);
    expect(log.appendClosed()).toBe(5);
    expect(log.nextSeq).toBe(6);
  });

  test("OutputLog snapshot without maxBytes returns every chunk and the next unassigned seq", () => {
    const log = logWith(5, 6);
    log.appendExited();
    log.appendClosed();
    expect(log.snapshot(0, null)).toEqual({
      chunks: [chunk(1), chunk(2), chunk(3), chunk(4), chunk(5)],
      nextSeq: 8,
      droppedBytes: 0,
    });
  });

  test("OutputLog snapshot with maxBytes 12 and 6-byte chunks returns chunks 1-2 and nextSeq 3", () => {
    const log = logWith(5, 6);
    log.appendExited();
    log.appendClosed();
    expect(log.snapshot(0, 12)).toEqual({ chunks: [chunk(1), chunk(2)], nextSeq: 3, droppedBytes: 0 });
  });

  test("OutputLog snapshot stops at the first chunk that would exceed maxBytes", () => {
    expect(logWith(5, 6).snapshot(0, 17)).toEqual({
      chunks: [chunk(1), chunk(2)],
      nextSeq: 3,
      droppedBytes: 0,
    });
  });

  test.each([0, 1])("OutputLog snapshot with maxBytes %d returns exactly one chunk", (maxBytes) => {
    expect(logWith(3, 6).snapshot(0, maxBytes)).toEqual({ chunks: [chunk(1)], nextSeq: 2, droppedBytes: 0 });
  });

  test("OutputLog snapshot returns a first chunk larger than maxBytes whole", () => {
    expect(logWith(2, 100).snapshot(0, 10)).toEqual({ chunks: [chunk(1)], nextSeq: 2, droppedBytes: 0 });
  });

  test("OutputLog snapshot returns the chunks after afterSeq", () => {
    expect(logWith(5, 6).snapshot(3, null)).toEqual({
      chunks: [chunk(4), chunk(5)],
      nextSeq: 6,
      droppedBytes: 0,
    });
  });

  test("OutputLog snapshot with maxBytes and no chunk left returns the next unassigned seq", () => {
    const log = logWith(2, 6);
    log.appendExited();
    expect(log.snapshot(2, 100)).toEqual({ chunks: [], nextSeq: 4, droppedBytes: 0 });
  });

  test("OutputLog snapshot skips the exited event when selecting chunks after it", () => {
    const log = new OutputLog(1_048_576);
    log.appendChunk("stdout", "c1", 1);
    log.appendExited();
    log.appendChunk("stdout", "c3", 1);
    expect(log.snapshot(0, 1)).toEqual({ chunks: [chunk(1)], nextSeq: 2, droppedBytes: 0 });
    expect(log.snapshot(1, 1)).toEqual({ chunks: [chunk(3)], nextSeq: 4, droppedBytes: 0 });
  });

  test("OutputLog drops whole chunks from the front past the retention bound and counts them", () => {
    const log = logWith(5, 6, 13);
    expect(log.snapshot(0, null)).toEqual({ chunks: [chunk(4), chunk(5)], nextSeq: 6, droppedBytes: 18 });
  });

  // A process that writes a byte at a time leaves chunks of a few bytes each, and each costs the
  // server far more than its bytes: 1 MiB of them kept some 85,000 chunks, 10-15 MB per process.
  test("OutputLog keeps at most one chunk per 64 bytes of its bound (1024 at least), counting the rest as dropped", () => {
    const log = logWith(20_000, 1, 1_048_576);
    const snapshot = log.snapshot(0, null);
    expect([snapshot.chunks.length, snapshot.chunks[0]?.seq, snapshot.droppedBytes]).toEqual([
      16_384,
      3_617,
      3_616,
    ]);
    expect(logWith(2_000, 1, 10_000).snapshot(0, null).chunks.length).toBe(1_024);
  });

  test("OutputLog reports no dropped bytes to a reader that has seen the dropped range", () => {
    expect(logWith(5, 6, 13).snapshot(3, null)).toEqual({
      chunks: [chunk(4), chunk(5)],
      nextSeq: 6,
      droppedBytes: 0,
    });
  });

  test("OutputLog reports dropped bytes to a reader that missed part of the dropped range", () => {
    expect(logWith(5, 6, 13).snapshot(2, null).droppedBytes).toBe(18);
  });

  test("OutputLog never drops the exited and closed events", () => {
    const log = logWith(3, 10, 10);
    log.appendExited();
    log.appendClosed();
    expect(log.exitedSeq).toBe(4);
    expect(log.closedSeq).toBe(5);
    expect(log.snapshot(0, null)).toEqual({ chunks: [chunk(3)], nextSeq: 6, droppedBytes: 20 });
  });

  test("OutputLog counts every appended byte in totalBytes, dropped ones included", () => {
    expect(logWith(5, 6, 13).totalBytes).toBe(30);
  });

  test("OutputLog keeps selection correct after compacting many dropped chunks", () => {
    const log = logWith(5000, 1, 10);
    expect(log.snapshot(4998, null)).toEqual({
      chunks: [chunk(4999), chunk(5000)],
      nextSeq: 5001,
      droppedBytes: 0,
    });
    expect(log.snapshot(0, null).chunks.map((entry) => entry.seq)).toEqual(
      Array.from({ length: 10 }, (_, i) => 4991 + i),
    );
  });

  test("OutputLog hasNewsAfter is true for an unseen chunk", () => {
    const log = logWith(2, 1);
    expect(log.hasNewsAfter(1)).toBe(true);
    expect(log.hasNewsAfter(2)).toBe(false);
  });

  test("OutputLog hasNewsAfter is true for an unseen exit and false for a seen one", () => {
    const log = logWith(1, 1);
    log.appendExited();
    expect(log.hasNewsAfter(1)).toBe(true);
    expect(log.hasNewsAfter(2)).toBe(false);
  });

  test("OutputLog hasNewsAfter is true once closed whatever afterSeq says", () => {
    const log = logWith(1, 1);
    log.appendExited();
    log.appendClosed();
    expect(log.hasNewsAfter(100)).toBe(true);
  });

  test("OutputLog changed resolves on the next append", async () => {
    const log = new OutputLog(100);
    const changed = log.changed(new AbortController().signal);
    log.appendChunk("stdout", "x", 1);
    await changed;
    expect(log.hasNewsAfter(0)).toBe(true);
  });

  test("OutputLog changed resolves when its signal aborts", async () => {
    const log = new OutputLog(100);
    const controller = new AbortController();
    const changed = log.changed(controller.signal);
    controller.abort();
    await changed;
    expect(log.hasNewsAfter(0)).toBe(false);
  });
});

describe("OutputLog long polls", () => {
  test("OutputLog forgets a waiter whose poll was aborted", async () => {
    const log = new OutputLog(1_048_576);
    for (let i = 0; i < 100; i++) {
      const controller = new AbortController();
      const waiting = log.changed(controller.signal);
      controller.abort();
      await waiting;
    }
    expect(log.waiterCount).toBe(0);
  });

  test("OutputLog wakes every waiter on an append and keeps none", async () => {
    const log = new OutputLog(1_048_576);
    const controller = new AbortController();
    const waiting = [log.changed(controller.signal), log.changed(controller.signal)];
    log.appendChunk("stdout", "a", 1);
    await Promise.all(waiting);
    expect(log.waiterCount).toBe(0);
  });

  test("OutputLog wakes a waiter only for an event past its afterSeq", async () => {
    // Every append woke every waiter, which re-checked and waited again: polls far ahead of a
    // chatty process cost the server per chunk and per poll.
    const log = new OutputLog(1_048_576);
    const controller = new AbortController();
    const ahead = log.changed(controller.signal, 3);
    const next = log.changed(controller.signal, 0);
    for (const text of ["a", "b", "c"]) log.appendChunk("stdout", text, 1);
    expect(log.waiterCount).toBe(1);
    await next;
    log.appendChunk("stdout", "d", 1);
    await ahead;
    expect(log.waiterCount).toBe(0);
  });

  test("OutputLog wakes a waiter ahead of its chunks at the exit past it and at the close", async () => {
    const log = logWith(2, 1);
    const controller = new AbortController();
    const pastExit = log.changed(controller.signal, 2);
    const farAhead = log.changed(controller.signal, 2 ** 52);
    expect(log.appendExited()).toBe(3);
    await pastExit;
    expect(log.waiterCount).toBe(1);
    log.appendClosed();
    await farAhead;
    expect(log.waiterCount).toBe(0);
  });

  test("OutputLog forgets aborted waiters far ahead and still wakes the rest in seq order", async () => {
    const log = new OutputLog(1_048_576);
    const kept = new AbortController();
    const order: number[] = [];
    const waits = [5, 2, 9].map((afterSeq) =>
      log.changed(kept.signal, afterSeq).then(() => order.push(afterSeq))
    );
    for (let i = 0; i < 1_000; i++) {
      const controller = new AbortController();
      const waiting = log.changed(controller.signal, 1_000_000 + i);
      controller.abort();
      await waiting;
    }
    expect(log.waiterCount).toBe(3);
    for (let i = 0; i < 10; i++) log.appendChunk("stdout", "x", 1);
    await Promise.all(waits);
    expect({ order, waiting: log.waiterCount }).toEqual({ order: [2, 5, 9], waiting: 0 });
  });

  test("OutputLog selectedBytes counts what a snapshot selects, cut short past the cap", () => {
    const log = logWith(10, 100);
    const selected = (afterSeq: number, maxBytes: number | null): number =>
      log.snapshot(afterSeq, maxBytes).chunks.length * 100;
    for (
      const [afterSeq, maxBytes] of [[0, null], [3, null], [3, 250], [3, 0], [9, 1], [10, null]] as const
    ) {
      expect(log.selectedBytes(afterSeq, maxBytes, 10_000)).toBe(selected(afterSeq, maxBytes));
    }
    expect(log.selectedBytes(0, null, 250)).toBe(300);
  });
});

describe("OutputLog keeping bytes", () => {
  test("encodes kept bytes at each read and hands them back once dropped", () => {
    const released: Uint8Array[] = [];
    const log = new OutputLog(4, {
      encode: (bytes) => Buffer.from(bytes).toString("base64"),
      release: (bytes) => released.push(bytes),
    });
    const first = new Uint8Array([1, 2, 3]);
    const second = new Uint8Array([4, 5, 6]);
    log.appendChunk("stdout", "AQID", 3, first);
    expect(log.snapshot(0, null).chunks).toEqual([{ seq: 1, stream: "stdout", chunk: "AQID" }]);
    log.appendChunk("stdout", "BAUG", 3, second);
    expect(released).toEqual([first]);
    expect(log.snapshot(0, null).chunks).toEqual([{ seq: 2, stream: "stdout", chunk: "BAUG" }]);
    log.dropAll();
    expect(released).toEqual([first, second]);
  });
});
