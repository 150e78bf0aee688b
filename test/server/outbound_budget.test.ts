import { describe, expect, test } from "bun:test";
import { OutboundBudget } from "../../src/server/outbound_budget.ts";
import type { OutboundMember } from "../../src/server/outbound_budget.ts";

function member(bytes: number, requestsHeld = 0): OutboundMember & { cut: string | null } {
  const created = {
    cut: null as string | null,
    requestsHeld,
    backlog: () => (created.cut === null ? bytes : 0),
    cutOff: (reason: string) => {
      created.cut = reason;
    },
  };
  return created;
}

describe("OutboundBudget", () => {
  test("sums the backlog and the held requests of its members", () => {
    const budget = new OutboundBudget(1000);
    for (const each of [member(10, 1), member(20, 2)]) budget.add(each);
    expect([budget.total(), budget.held()]).toEqual([30, 3]);
  });

  test("under the limit nobody is cut off", () => {
    const budget = new OutboundBudget(100);
    const members = [member(50), member(50)];
    for (const each of members) budget.add(each);
    budget.check();
    expect(members.map((each) => each.cut)).toEqual([null, null]);
  });

  test("over the limit the largest holders are cut off until the rest fits, with a reason naming both sizes", () => {
    const budget = new OutboundBudget(100);
    const members = [member(40), member(90), member(70), member(5)];
    for (const each of members) budget.add(each);
    budget.check();
    expect(members.map((each) => each.cut !== null)).toEqual([false, true, true, false]);
    expect(members[1]?.cut).toContain("limit of 100 bytes, and this connection holds 90");
    expect(budget.total()).toBe(45);
  });

  test("a removed member no longer counts", () => {
    const budget = new OutboundBudget(100);
    const large = member(500);
    budget.add(large);
    budget.remove(large);
    budget.check();
    expect([large.cut, budget.total()]).toEqual([null, 0]);
  });
});
