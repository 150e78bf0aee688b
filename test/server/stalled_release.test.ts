import { describe, expect, test } from "bun:test";
import { StalledRelease } from "../../src/server/stalled_release.ts";

/** A stalled release whose timer the test fires by hand. */
function manual() {
  const timers: Array<{ run: () => void; cleared: boolean }> = [];
  let releases = 0;
  const stalled = new StalledRelease(() => void releases++, {
    start: (run) => {
      const timer = { run, cleared: false };
      timers.push(timer);
      return () => void (timer.cleared = true);
    },
  });
  return {
    stalled,
    releases: () => releases,
    pending: () => timers.filter((timer) => !timer.cleared).length,
    fire: () => {
      const timer = timers.find((candidate) => !candidate.cleared);
      if (timer === undefined) return;
      timer.cleared = true;
      timer.run();
    },
  };
}

describe("StalledRelease", () => {
  test("releases once the output stayed paused for the whole wait", () => {
    const probe = manual();
    probe.stalled.paused();
    expect(probe.releases()).toBe(0);
    probe.fire();
    expect(probe.releases()).toBe(1);
    expect(probe.pending()).toBe(0);
  });

  test("a client that reads the backlog down before the wait ends costs no release", () => {
    const probe = manual();
    probe.stalled.paused();
    probe.stalled.resumed();
    expect(probe.pending()).toBe(0);
    probe.fire();
    expect(probe.releases()).toBe(0);
  });

  test("pauses while one wait runs share it", () => {
    const probe = manual();
    probe.stalled.paused();
    probe.stalled.paused();
    expect(probe.pending()).toBe(1);
    probe.fire();
    expect(probe.releases()).toBe(1);
  });

  test("a pause after a resume waits afresh", () => {
    const probe = manual();
    probe.stalled.paused();
    probe.stalled.resumed();
    probe.stalled.paused();
    expect(probe.pending()).toBe(1);
    probe.fire();
    expect(probe.releases()).toBe(1);
  });

  test("a connection's end drops the wait", () => {
    const probe = manual();
    probe.stalled.paused();
    probe.stalled.resumed();
    probe.stalled.paused();
    probe.stalled.cancel();
    expect(probe.pending()).toBe(0);
    expect(probe.releases()).toBe(0);
  });
});
