import { describe, expect, test } from "bun:test";
import { TrailingThrottle } from "../../src/runtime/trailing_throttle.ts";

/** Keeps the thread busy for `ms`, as a collection does. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spinning on purpose
  }
}

/** A throttle whose runs are timed; `nth(n)` resolves with the start of run n (from 1). */
function timedThrottle(budget: { share: number; minIntervalMs: number }, actionMs: number) {
  const starts: number[] = [];
  const waiting = new Map<number, PromiseWithResolvers<number>>();
  const nth = (n: number): Promise<number> => {
    const known = starts[n - 1];
    if (known !== undefined) return Promise.resolve(known);
    const entry = waiting.get(n) ?? Promise.withResolvers<number>();
    waiting.set(n, entry);
    return entry.promise;
  };
  const throttle = new TrailingThrottle(budget, () => {
    const start = performance.now();
    starts.push(start);
    busyFor(actionMs);
    waiting.get(starts.length)?.resolve(start);
  });
  return { throttle, starts, nth };
}

describe("TrailingThrottle", () => {
  test("runs the first request after the current task and defers a burst to one trailing run", async () => {
    const { throttle, starts, nth } = timedThrottle({ share: 1, minIntervalMs: 50 }, 0);
    throttle.request();
    expect(starts.length).toBe(0);
    await nth(1);
    throttle.request();
    throttle.request();
    throttle.request();
    expect(starts.length).toBe(1);
    await nth(2);
    expect(starts.length).toBe(2);
  });

  test("after a run of d ms the next waits d / share, so the action takes at most its share", async () => {
    // The run takes 20 ms, so with a share of a half the next may start 40 ms after the first
    // began. Timers never fire early, so the bound holds on a loaded machine too.
    const { throttle, nth } = timedThrottle({ share: 0.5, minIntervalMs: 1 }, 20);
    throttle.request();
    const first = await nth(1);
    throttle.request();
    expect((await nth(2)) - first).toBeGreaterThanOrEqual(39);
  });

  test("a quick action still waits the least interval", async () => {
    const { throttle, nth } = timedThrottle({ share: 0.5, minIntervalMs: 30 }, 0);
    throttle.request();
    const first = await nth(1);
    throttle.request();
    expect((await nth(2)) - first).toBeGreaterThanOrEqual(29);
  });
});
