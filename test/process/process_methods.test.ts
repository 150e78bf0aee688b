import { expect, test } from "bun:test";
import { LIST_WITHOUT_ROOM, PROCESS_HANDLERS } from "../../src/process/mod.ts";
import type { ProcessTable } from "../../src/process/mod.ts";

/** Runs `process/list` on a table of `size` processes with a room that opens when told; counts the listings. */
function listWithRoom(size: number) {
  let listed = 0;
  // The handler reaches only `size` and `list` of the table.
  const processes = {
    size,
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
  return { reply, open: () => room.resolve(), listed: () => listed };
}

test("a long process/list waits for room for its reply before it reads any process's usage", async () => {
  const list = listWithRoom(LIST_WITHOUT_ROOM + 1);
  await Bun.sleep(0);
  expect(list.listed()).toBe(0);
  list.open();
  expect(await list.reply).toEqual({ processes: [] });
  expect(list.listed()).toBe(1);
});

test("a short process/list is answered without waiting for room", async () => {
  const list = listWithRoom(LIST_WITHOUT_ROOM);
  expect(await list.reply).toEqual({ processes: [] });
  expect(list.listed()).toBe(1);
});
