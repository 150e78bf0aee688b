import { describe, expect, test } from "bun:test";
import { TrailingThrottle } from "../../src/runtime/trailing_throttle.ts";

describe("TrailingThrottle", () => {
  test("runs the first request after the current task and defers a burst to one trailing run", async () => {
    const runs: number[] = [];
    const first = Promise.withResolvers<void>();
    const trailing = Promise.withResolvers<void>();
    const throttle = new TrailingThrottle(50, () => {
      runs.push(runs.length);
      if (runs.length === 1) first.resolve();
      if (runs.length === 2) trailing.resolve();
    });
    throttle.request();
    expect(runs).toEqual([]);
    await first.promise;
    expect(runs).toEqual([0]);
    throttle.request();
    throttle.request();
    throttle.request();
    expect(runs).toEqual([0]);
    await trailing.promise;
    expect(runs).toEqual([0, 1]);
  });

  test("flush runs a deferred request after the current task instead of at the interval's end", async () => {
    let runs = 0;
    const first = Promise.withResolvers<void>();
    const flushed = Promise.withResolvers<void>();
    // An interval no test run outlasts: the second run can only come from the flush.
    const throttle = new TrailingThrottle(3_600_000, () => {
      runs++;
      if (runs === 1) first.resolve();
      if (runs === 2) flushed.resolve();
    });
    throttle.request();
    await first.promise;
    throttle.request();
    throttle.flush();
    expect(runs).toBe(1);
    await flushed.promise;
    expect(runs).toBe(2);
  });

  test("flush without a waiting request runs nothing", async () => {
    let runs = 0;
    const throttle = new TrailingThrottle(3_600_000, () => runs++);
    throttle.flush();
    const first = Promise.withResolvers<void>();
    const probe = new TrailingThrottle(0, () => first.resolve());
    probe.request();
    // The probe's run comes after any run the flush could have scheduled for after this task.
    await first.promise;
    expect(runs).toBe(0);
  });
});
