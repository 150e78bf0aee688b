import { expect, test } from "bun:test";
import { LIST_WITHOUT_ROOM, PROCESS_HANDLERS, SMALL_LIST_BYTES } from "../../src/process/mod.ts";
import type { ProcessTable } from "../../src/process/mod.ts";
import { recordedWaits } from "../helpers/recorded_waits.ts";

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

/** Runs `process/list` on a table of `size` rows of `rowBytes` each, with a turn and a slot; records the waits. */
function listWithTurn(size: number, rowBytes: number) {
  const events: string[] = [];
  const row = { processId: "x".repeat(rowBytes) };
  // The handler reaches only `size` and `list` of the table; `list` makes its rows as the table does.
  const processes = {
    size,
    list: async (large?: { heldBytes: number; wait(): Promise<void> }) => {
      let held = 0;
      let waited = false;
      for (let index = 0; index < size; index++) {
        events.push("row");
        held += JSON.stringify(row).length + 1;
        if (!waited && large !== undefined && held > large.heldBytes) {
          waited = true;
          await large.wait();
        }
      }
      return [];
    },
  } as unknown as ProcessTable;
  const reply = PROCESS_HANDLERS["process/list"]({}, {
    processes,
    signal: new AbortController().signal,
    ...recordedWaits(events),
  });
  return { reply, waits: () => events.filter((event) => event !== "row") };
}

test("a long process/list takes its connection's turn, and a slot only once its rows pass SMALL_LIST_BYTES", async () => {
  const small = listWithTurn(LIST_WITHOUT_ROOM + 1, 100);
  await small.reply;
  expect(small.waits()).toEqual(["turn"]);
  const large = listWithTurn(LIST_WITHOUT_ROOM + 1, Math.ceil(SMALL_LIST_BYTES / LIST_WITHOUT_ROOM));
  await large.reply;
  expect(large.waits()).toEqual(["turn", "slot"]);
});

test("process/read of an id the table does not hold throws in its own turn, with the table's error", () => {
  const unknown = new Error("unknown process id ghost");
  let reads = 0;
  // The handler reaches only `requireKnown` and `read` of the table.
  const processes = {
    requireKnown: (processId: string) => {
      if (processId === "ghost") throw unknown;
    },
    read: () => {
      reads++;
      return Promise.reject(unknown);
    },
  } as unknown as ProcessTable;
  const read = () =>
    PROCESS_HANDLERS["process/read"]({ processId: "ghost" }, {
      processes,
      signal: new AbortController().signal,
    });
  expect(read).toThrow(unknown);
  expect(reads).toBe(0);
});
