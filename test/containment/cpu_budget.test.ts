import { expect, test } from "bun:test";
import { checkDelayMs, CpuBudget } from "../../src/containment/cpu_budget.ts";

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

// A look that cannot read the tree's CPU time (descriptors short for a moment, say) looks again: it
// ended the budget for good before, and the tree then ran without a CPU limit for as long as it lived.
test("a CPU budget whose look cannot read the CPU time looks again, and ends the tree once it is spent", async () => {
  const exceeded = Promise.withResolvers<void>();
  const reads = [null, null, 1];
  let looks = 0;
  const budget = new CpuBudget(0.01, {
    cpus: 1,
    used: () => Promise.resolve(reads[Math.min(looks++, reads.length - 1)] ?? null),
    exceeded: () => exceeded.resolve(),
  });
  await exceeded.promise;
  budget.stop();
  expect(looks).toBe(3);
});
