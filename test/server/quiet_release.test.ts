import { describe, expect, test } from "bun:test";
import { QuietRelease } from "../../src/server/quiet_release.ts";

/** A quiet release whose timer the test fires by hand. */
function manual(thresholdUnits: number) {
  const checks: Array<() => void> = [];
  let releases = 0;
  const quiet = new QuietRelease(() => void releases++, (check) => void checks.push(check), thresholdUnits);
  return {
    quiet,
    releases: () => releases,
    pendingChecks: () => checks.length,
    fire: () => checks.shift()?.(),
  };
}

describe("QuietRelease", () => {
  test("waits for nothing below its threshold", () => {
    const probe = manual(100);
    probe.quiet.add(60);
    probe.quiet.add(39);
    expect(probe.pendingChecks()).toBe(0);
    expect(probe.releases()).toBe(0);
  });

  test("releases once the messages past the threshold are followed by a quiet interval", () => {
    const probe = manual(100);
    probe.quiet.add(60);
    probe.quiet.add(40);
    expect(probe.pendingChecks()).toBe(1);
    probe.fire();
    expect(probe.releases()).toBe(1);
    expect(probe.pendingChecks()).toBe(0);
  });

  test("waits again while messages keep coming, and releases once", () => {
    const probe = manual(100);
    probe.quiet.add(100);
    probe.quiet.add(1);
    probe.fire();
    expect(probe.releases()).toBe(0);
    expect(probe.pendingChecks()).toBe(1);
    probe.quiet.add(5_000);
    probe.fire();
    expect(probe.releases()).toBe(0);
    probe.fire();
    expect(probe.releases()).toBe(1);
    expect(probe.pendingChecks()).toBe(0);
  });

  test("counts afresh after a release: what came while it waited does not start the next", () => {
    const probe = manual(100);
    probe.quiet.add(100);
    probe.quiet.add(500);
    probe.fire();
    probe.fire();
    expect(probe.releases()).toBe(1);
    probe.quiet.add(99);
    expect(probe.pendingChecks()).toBe(0);
    probe.quiet.add(1);
    probe.fire();
    expect(probe.releases()).toBe(2);
  });
});
