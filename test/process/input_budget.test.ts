import { describe, expect, test } from "bun:test";
import { InputBudget } from "../../src/process/input_budget.ts";

const LIMIT = 1000;

/** Takes `bytes` for `owner`; false when the budget refuses. */
function tryTake(budget: InputBudget, owner: object, bytes: number): boolean {
  try {
    budget.take(owner, bytes);
    return true;
  } catch {
    return false;
  }
}

describe("InputBudget", () => {
  test("an owner that holds the whole limit is refused, another owner is taken up to its share", () => {
    const budget = new InputBudget(LIMIT);
    const hoarder = {};
    const other = {};
    expect(tryTake(budget, hoarder, LIMIT)).toBe(true);
    expect(tryTake(budget, hoarder, 1)).toBe(false);
    expect(tryTake(budget, other, LIMIT / 2)).toBe(true);
    expect(tryTake(budget, other, 1)).toBe(false);
    budget.give(other, LIMIT / 2);
    expect(budget.held).toBe(LIMIT);
    expect(tryTake(budget, other, LIMIT / 2 + 1)).toBe(false);
  });

  test("owners that each fill what they may keep the total below the limit times 1 + ln(owners)", () => {
    const budget = new InputBudget(LIMIT);
    const owners = Array.from({ length: 64 }, () => ({}));
    for (const owner of owners) {
      while (tryTake(budget, owner, 7));
    }
    expect(budget.held).toBeLessThanOrEqual(LIMIT * (1 + Math.log(owners.length)));
    for (const owner of owners) budget.give(owner, LIMIT);
    expect(budget.held).toBe(0);
  });

  test("one write larger than the limit is taken when nothing waits, and given back only by its owner", () => {
    const budget = new InputBudget(LIMIT);
    const owner = {};
    expect(tryTake(budget, owner, 3 * LIMIT)).toBe(true);
    budget.give({}, LIMIT);
    expect(budget.held).toBe(3 * LIMIT);
    budget.give(owner, 3 * LIMIT);
    expect(budget.held).toBe(0);
  });
});
