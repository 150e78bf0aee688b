import { describe, expect, test } from "bun:test";
import { QuietRelease, SENDING_WAITS } from "../../src/server/quiet_release.ts";

/** A quiet release whose timer the test fires by hand. */
function manual(thresholdUnits: number) {
  const checks: Array<() => void> = [];
  let releases = 0;
  let sending = false;
  const quiet = new QuietRelease(
    () => void releases++,
    (check) => void checks.push(check),
    thresholdUnits,
    () => sending,
  );
  return {
    quiet,
    setSending: (value: boolean) => void (sending = value),
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

  test("waits while a reply is still being sent, and releases once it has left", () => {
    const probe = manual(100);
    probe.quiet.add(100);
    probe.setSending(true);
    probe.fire();
    probe.fire();
    expect(probe.releases()).toBe(0);
    expect(probe.pendingChecks()).toBe(1);
    probe.setSending(false);
    probe.fire();
    expect(probe.releases()).toBe(1);
    expect(probe.pendingChecks()).toBe(0);
  });

  test("releases after SENDING_WAITS quiet intervals while data stays unsent (a client that does not read)", () => {
    const probe = manual(100);
    probe.quiet.add(100);
    probe.setSending(true);
    for (let wait = 0; wait < SENDING_WAITS; wait++) probe.fire();
    expect(probe.releases()).toBe(0);
    probe.fire();
    expect(probe.releases()).toBe(1);
    expect(probe.pendingChecks()).toBe(0);
    probe.quiet.add(100);
    probe.fire();
    expect(probe.releases()).toBe(1);
  });
});
