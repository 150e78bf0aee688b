import { expect, test } from "bun:test";
import { checkDelayMs } from "../../src/containment/cpu_budget.ts";

/** The longest delay a runtime timer holds; past it Bun and Deno fire after 1 ms instead. */
const LONGEST_TIMER_MS = 2_147_483_647;

// A budget of a year (the longest `limits.cpuSeconds`, §11.11) overflowed the timer: the check ran
// every millisecond for as long as the process lived, and each one logged a warning (20 such
// processes took 0.9–2.1 s of the server's CPU in 3 s).
test.each([
  [31_536_000, 2, LONGEST_TIMER_MS],
  [31_536_000, 1, LONGEST_TIMER_MS],
  [3_000, 1, 3_000_000],
  [10, 4, 2_500],
  [0.01, 1, 100],
])("the CPU budget looks again after %p s on %p CPUs in %p ms", (remainingSeconds, cpus, delay) => {
  expect(checkDelayMs(remainingSeconds, cpus)).toBe(delay);
});
