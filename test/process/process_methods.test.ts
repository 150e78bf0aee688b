import { expect, test } from "bun:test";
import { PROCESS_HANDLERS } from "../../src/process/mod.ts";
import type { ProcessTable } from "../../src/process/mod.ts";

test("process/list waits for room for its reply before it reads any process's usage", async () => {
  let listed = 0;
  // The handler reaches only `list` of the table.
  const processes = {
    list: () => {
      listed++;
      return Promise.resolve([]);
    },
  } as unknown as ProcessTable;
  const room = Promise.withResolvers<void>();
  const reply = PROCESS_HANDLERS["process/list"]({}, {
    processes,
    signal: new AbortController().signal,
    room: () => room.promise,
  });
  await Bun.sleep(0);
  expect(listed).toBe(0);
  room.resolve();
  expect(await reply).toEqual({ processes: [] });
  expect(listed).toBe(1);
});
