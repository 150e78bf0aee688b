import { describe, expect, test } from "bun:test";
import { LiveOutput, OutputLog } from "../../src/process/mod.ts";

/** Appends `count` chunks of `size` bytes to `log` and tells `live` after each, as a process table does. */
function print(live: LiveOutput, owner: object, log: OutputLog, count: number, size: number): void {
  for (let i = 0; i < count; i++) {
    log.appendChunk("stdout", "x", size);
    live.changed(owner, log);
  }
}

describe("LiveOutput", () => {
  test("past the limit the owner holding the most loses its largest log's oldest chunks, to under the limit", () => {
    // A limit of 6,400 bytes: the slack is 100 bytes.
    const live = new LiveOutput(6_400);
    const quiet = {};
    const busy = {};
    const quietLog = new OutputLog(1_000_000);
    print(live, quiet, quietLog, 10, 100);
    const busyLogs = Array.from({ length: 6 }, () => new OutputLog(1_000_000));
    for (const log of busyLogs) print(live, busy, log, 9, 100);
    // 1,000 + 5,400 = 6,400 bytes: at the limit, nothing dropped yet.
    expect(live.total).toBe(6_400);
    print(live, busy, busyLogs[5] ?? new OutputLog(1), 1, 100);
    // 6,500 > 6,400: the busy owner's largest log (the last, 1,000 bytes) drops 200 to reach 6,300.
    expect(live.total).toBe(6_300);
    expect(quietLog.retainedBytes).toBe(1_000);
    expect(busyLogs.map((log) => log.retainedBytes)).toEqual([900, 900, 900, 900, 900, 800]);
    expect(busyLogs[5]?.snapshot(0, null).droppedBytes).toBe(200);
  });

  test("a closed process's log stops counting", () => {
    const live = new LiveOutput(1_000);
    const owner = {};
    const log = new OutputLog(1_000_000);
    print(live, owner, log, 5, 100);
    live.forget(owner, log);
    expect(live.total).toBe(0);
    const other = new OutputLog(1_000_000);
    print(live, owner, other, 10, 100);
    expect(other.retainedBytes).toBe(1_000);
    expect(log.retainedBytes).toBe(500);
  });
});

describe("OutputLog.dropOldest", () => {
  test("drops whole chunks from the front until enough are gone, and reports them as dropped", () => {
    const log = new OutputLog(1_000_000);
    for (let i = 0; i < 4; i++) log.appendChunk("stdout", `c${i + 1}`, 10);
    expect(log.dropOldest(15)).toBe(20);
    expect(log.snapshot(0, null)).toEqual({
      chunks: [{ seq: 3, stream: "stdout", chunk: "c3" }, { seq: 4, stream: "stdout", chunk: "c4" }],
      nextSeq: 5,
      droppedBytes: 20,
    });
    expect(log.dropOldest(1_000)).toBe(20);
    expect(log.dropOldest(1)).toBe(0);
    expect(log.retainedBytes).toBe(0);
  });
});
