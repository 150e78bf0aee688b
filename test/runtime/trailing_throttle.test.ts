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
});
