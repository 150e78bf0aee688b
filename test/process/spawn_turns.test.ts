import { expect, test } from "bun:test";
import { SPAWN_TURN_MS, SpawnTurns } from "../../src/process/spawn_turns.ts";

/** A clock the test moves, and the timers a turn ends with, fired when the test says. */
function manualClock(): {
  now: number;
  timers: Array<() => void>;
  clock: { now(): number; later(run: () => void): void };
} {
  const state = {
    now: 0,
    timers: [] as Array<() => void>,
    clock: {
      now: () => state.now,
      later: (run: () => void) => void state.timers.push(run),
    },
  };
  return state;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Spawns `count` times for `owner`, each taking `costMs` of the clock once let in; logs the order. */
function spawnAll(
  turns: SpawnTurns,
  state: { now: number },
  owner: object,
  name: string,
  count: number,
  costMs: number,
  order: string[],
): Promise<void[]> {
  return Promise.all(Array.from({ length: count }, async (_, index) => {
    const turn = turns.enter(owner);
    if (turn !== null) await turn;
    order.push(`${name}${index}`);
    state.now += costMs;
  }));
}

test("spawns go at once within a turn, and wait for a timer once it has lasted SPAWN_TURN_MS", async () => {
  const state = manualClock();
  const turns = new SpawnTurns(state.clock);
  const order: string[] = [];
  // The first spawn begins a turn; the spawns after it that the turn has time for go in it.
  const burst = spawnAll(turns, state, {}, "a", 8, SPAWN_TURN_MS / 2, order);
  await settle();
  expect(order).toEqual(["a0", "a1"]);
  expect(turns.waiting).toBe(6);
  expect(state.timers.length).toBe(1);
  state.timers.shift()?.();
  await settle();
  expect(order).toEqual(["a0", "a1", "a2", "a3"]);
  expect(state.timers.length).toBe(1);
  state.timers.shift()?.();
  await settle();
  expect(order.length).toBe(6);
  state.timers.shift()?.();
  await burst;
  expect(order.length).toBe(8);
  expect(turns.waiting).toBe(0);
  // A spawn a turn's length after the last one goes at once, and begins a turn.
  state.now += SPAWN_TURN_MS;
  expect(turns.enter({})).toBeNull();
  expect(turns.enter({})).toBeNull();
});

test("owners that wait take their turns in rotation, so one burst does not queue another's spawn behind it", async () => {
  const state = manualClock();
  const turns = new SpawnTurns(state.clock);
  const order: string[] = [];
  const burst = spawnAll(turns, state, {}, "a", 20, SPAWN_TURN_MS / 10, order);
  await settle();
  const other = spawnAll(turns, state, {}, "b", 1, 1, order);
  while (state.timers.length > 0) {
    state.timers.shift()?.();
    await settle();
  }
  await Promise.all([burst, other]);
  // The first turn's ten went before the other owner came; it then waits for one spawn, not ten.
  const first = Array.from({ length: 11 }, (_, index) => `a${index}`);
  expect(order.slice(0, 12)).toEqual([...first, "b0"]);
  expect(order.length).toBe(21);
});
