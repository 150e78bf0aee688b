import { expect, test } from "bun:test";
import { StartAdmission } from "../../src/process/start_admission.ts";

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

test("admits the limit at once and the rest in order, one as each admitted start leaves", async () => {
  const admission = new StartAdmission(2);
  const order: number[] = [];
  const waits = Array.from({ length: 5 }, (_, index) => {
    const admitted = admission.enter();
    if (admitted === null) {
      order.push(index);
      return null;
    }
    return admitted.then(() => void order.push(index));
  });
  await settle();
  expect({ order: [...order], admitted: admission.admitted, waiting: admission.waiting }).toEqual({
    order: [0, 1],
    admitted: 2,
    waiting: 3,
  });
  admission.leave();
  await settle();
  expect([...order]).toEqual([0, 1, 2]);
  admission.leave();
  admission.leave();
  await settle();
  await Promise.all(waits);
  expect({ order, admitted: admission.admitted, waiting: admission.waiting }).toEqual({
    order: [0, 1, 2, 3, 4],
    admitted: 2,
    waiting: 0,
  });
  admission.leave();
  admission.leave();
  expect(admission.admitted).toBe(0);
  expect(admission.enter()).toBeNull();
});
