import { describe, expect, test } from "bun:test";
import { ReplyRoom } from "../../src/server/reply_room.ts";
import { BACKLOG_LOW_BYTES } from "../../src/server/session.ts";

/** Which of `entries` have been granted the room so far, after pending callbacks have run. */
async function granted(entries: Array<Promise<() => void>>): Promise<boolean[]> {
  const states = entries.map(() => false);
  entries.forEach((entry, index) => void entry.then(() => (states[index] = true), () => {}));
  await Bun.sleep(0);
  return states;
}

describe("ReplyRoom", () => {
  test("one request at a time, in order, each after the previous reply is released", async () => {
    const room = new ReplyRoom(() => 0);
    const signal = new AbortController().signal;
    const entries = [room.enter(signal), room.enter(signal), room.enter(signal)];
    expect([await granted(entries), room.waiting]).toEqual([[true, false, false], 2]);
    (await entries[0]!)();
    expect([await granted(entries), room.waiting]).toEqual([[true, true, false], 1]);
    (await entries[1]!)();
    expect([await granted(entries), room.waiting]).toEqual([[true, true, true], 0]);
  });

  test("waits while the backlog is at the low mark, and admits on drained once below it", async () => {
    let backlog = BACKLOG_LOW_BYTES;
    const room = new ReplyRoom(() => backlog);
    const entry = room.enter(new AbortController().signal);
    room.drained();
    expect(await granted([entry])).toEqual([false]);
    backlog = BACKLOG_LOW_BYTES - 1;
    room.drained();
    expect(await granted([entry])).toEqual([true]);
  });

  test("an aborted wait leaves the queue and rejects with the signal's reason", async () => {
    const room = new ReplyRoom(() => 0);
    const holder = await room.enter(new AbortController().signal);
    const controller = new AbortController();
    const waiting = room.enter(controller.signal);
    const after = room.enter(new AbortController().signal);
    controller.abort(new Error("withdrawn"));
    await expect(waiting).rejects.toThrow("withdrawn");
    expect(room.waiting).toBe(1);
    holder();
    expect(await granted([after])).toEqual([true]);
  });

  test("close refuses every waiting request and every later one, so none produces a reply", async () => {
    const room = new ReplyRoom(() => 100 * BACKLOG_LOW_BYTES);
    const signal = new AbortController().signal;
    const entries = [room.enter(signal), room.enter(signal)];
    expect(await granted(entries)).toEqual([false, false]);
    room.close(new Error("connection closed"));
    expect(room.waiting).toBe(0);
    for (const entry of [...entries, room.enter(signal)]) {
      await expect(entry).rejects.toThrow("connection closed");
    }
  });

  test("a release called twice frees the room once", async () => {
    const room = new ReplyRoom(() => 0);
    const signal = new AbortController().signal;
    const first = await room.enter(signal);
    const entries = [room.enter(signal), room.enter(signal)];
    first();
    first();
    expect(await granted(entries)).toEqual([true, false]);
  });
});
