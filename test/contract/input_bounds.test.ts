/**
 * Server memory with clients that send more than a child takes (PROTOCOL.md §5.7, docs/security.md
 * "Memory"): what `process/write` leaves with the server stays bounded whatever its size. Each case
 * runs its own server and compares its RSS with its RSS before the case once the server has
 * collected its garbage (it does so once a burst of message text has gone quiet), so only what it
 * keeps counts.
 */
import { describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { startHeldReader } from "../helpers/held_reader.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { b64, startParams } from "../helpers/shared_server.ts";
import { RELEASE_AFTER_TRAFFIC_UNITS } from "../../src/server/quiet_release.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const MIB = 1024 * 1024;
/** writeIds the server remembers (it keeps at least 1,024 per process), and the size of each. */
const LONG_IDS = 48;
const LONG_ID_BYTES = 4 * MIB;
/** What remembering them may add: kept whole they took 190–200 MiB. */
const WRITE_ID_BOUND = 48 * MIB;
/** `--max-unread-input-bytes` of the bound case, and the writes it is sent. */
const UNREAD_INPUT_LIMIT = 8 * MIB;
const PIPELINED_WRITES = 12;
const WRITE_BYTES = MIB;

/** Between two readings of /proc while a case waits for the server to collect its garbage. */
const POLL_MS = 20;

async function rssOf(server: TestServer): Promise<number> {
  const status = await readFile(`/proc/${server.child.pid ?? 0}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? "0") * 1024;
}

/**
 * Waits until the server's RSS is at most `bytes`, or 30 s have passed (a loaded machine's
 * collection, not a bound of the server's); resolves with the RSS.
 */
async function untilRssBelow(server: TestServer, bytes: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const rss = await rssOf(server);
    if (rss <= bytes || Date.now() > deadline) return rss;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

describe.each(RUNTIMES)("process/write input held by the server on %s", (runtime) => {
  test("long writeIds are remembered without their length", async () => {
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    await using client = await server.session();
    await client.call("process/start", startParams("ids", ["cat"], dir.uri, { pipeStdin: true }));
    const baseline = await rssOf(server);
    const longId = (index: number): string => `${index}:`.padEnd(LONG_ID_BYTES, "w");
    for (let index = 0; index < LONG_IDS; index++) {
      expect(await client.call("process/write", { processId: "ids", chunk: "", writeId: longId(index) }))
        .toEqual({ status: "accepted" });
    }
    // The server collects once a burst of text has gone quiet, but a pause inside the burst (a
    // loaded machine makes them) may start that collection early, and the writes after it can be
    // too little text to start another. One message of that much text, answered in the task that
    // reads it, ends the burst with a collection owed after every write's reply.
    client.send({ pad: "p".repeat(RELEASE_AFTER_TRAFFIC_UNITS) });
    await client.waitForMessage((message) => message["id"] === -1);
    const held = await untilRssBelow(server, baseline + WRITE_ID_BOUND) - baseline;
    // Remembered all the same: a repeat writes nothing, a new id that differs at its end writes.
    await client.call("process/write", { processId: "ids", chunk: b64("again\n"), writeId: longId(0) });
    await client.call("process/write", {
      processId: "ids",
      chunk: b64("new\n"),
      writeId: `${longId(0).slice(0, -1)}x`,
    });
    await client.call("process/closeStdin", { processId: "ids" });
    await client.untilClosed("ids");
    expect({ held: held <= WRITE_ID_BOUND ? "bounded" : held, output: client.outputText("ids") }).toEqual({
      held: "bounded",
      output: "new\n",
    });
  }, 120_000);

  test(
    "input a child does not read is held up to --max-unread-input-bytes, and writes past it are refused",
    async () => {
      await using server = await startServer({
        runtime,
        args: ["--max-unread-input-bytes", String(UNREAD_INPUT_LIMIT)],
      });
      await using dir = await tempDir();
      await using client = await server.session();
      const child = await startHeldReader(client, { processId: "slow", dir, then: "cat >/dev/null" });
      const chunk = Buffer.alloc(WRITE_BYTES, 0x61).toString("base64");
      const ids = Array.from({ length: PIPELINED_WRITES }, (_, index) => `w${index}`);
      for (const id of ids) {
        client.send({ id, method: "process/write", params: { processId: "slow", chunk, writeId: id } });
      }
      // The child reads nothing yet: what the pipe takes (64 KiB) ends no write, so the first eight
      // writes fill the bound and the other four are refused at once.
      const refused = ids.slice(UNREAD_INPUT_LIMIT / WRITE_BYTES);
      const errors = await Promise.all(refused.map((id) => client.replyTo(id)));
      await child.release();
      const answers = await Promise.all(ids.map((id) => client.replyTo(id)));
      // Once the child has read it all, the bound is free again, and a refused writeId was not
      // remembered: its retry writes.
      const retry = await client.call("process/write", { processId: "slow", chunk, writeId: refused[0] });
      await client.call("process/closeStdin", { processId: "slow" });
      await client.untilClosed("slow");
      // With nothing waiting (the child read all its input before it closed), one write larger than
      // the limit is taken.
      await client.call("process/start", startParams("big", ["cat"], dir.uri, { pipeStdin: true }));
      const big = await client.call("process/write", {
        processId: "big",
        chunk: Buffer.alloc(UNREAD_INPUT_LIMIT + WRITE_BYTES).toString("base64"),
      });
      await client.call("process/terminate", { processId: "big" });
      await client.untilClosed("big");
      expect({
        answers: answers.map((answer) => answer["result"] ?? (answer["error"] as { code: number })["code"]),
        error: errors[0]?.["error"],
        retry,
        big,
      }).toEqual({
        answers: [
          ...ids.slice(0, -refused.length).map(() => ({ status: "accepted" })),
          ...refused.map(() => -32001),
        ],
        error: {
          code: -32001,
          message:
            `too much input waiting for processes to read it: a write of ${WRITE_BYTES} bytes would pass ` +
            `the limit of ${UNREAD_INPUT_LIMIT} bytes (${UNREAD_INPUT_LIMIT} bytes wait now)`,
          data: { kind: "LimitReached" },
        },
        retry: { status: "accepted" },
        big: { status: "accepted" },
      });
    },
    60_000,
  );

  test("one session's unread input does not refuse another session's writes", async () => {
    await using server = await startServer({
      runtime,
      args: ["--max-unread-input-bytes", String(UNREAD_INPUT_LIMIT)],
    });
    await using dir = await tempDir();
    await using hostile = await server.session();
    await using other = await server.session();
    const child = await startHeldReader(hostile, { processId: "hoard", dir, then: "cat >/dev/null" });
    const chunk = Buffer.alloc(WRITE_BYTES, 0x61).toString("base64");
    const ids = Array.from({ length: PIPELINED_WRITES }, (_, index) => `h${index}`);
    for (const id of ids) {
      hostile.send({ id, method: "process/write", params: { processId: "hoard", chunk, writeId: id } });
    }
    // The hoarding session has taken the whole server's bound: its own next write is refused.
    const refused = await hostile.replyTo(ids[ids.length - 1] ?? "");
    await other.call("process/start", startParams("cat", ["cat"], dir.uri, { pipeStdin: true }));
    const small = await other.request("process/write", { processId: "cat", chunk: b64("mine\n") });
    const large = await other.request("process/write", { processId: "cat", chunk });
    await other.call("process/closeStdin", { processId: "cat" });
    await other.untilClosed("cat");
    await child.release();
    await Promise.all(ids.map((id) => hostile.replyTo(id)));
    expect({
      refused: (refused["error"] as { code: number } | undefined)?.code,
      small: small["result"] ?? small["error"],
      large: large["result"] ?? large["error"],
      output: other.outputText("cat").length,
    }).toEqual({
      refused: -32001,
      small: { status: "accepted" },
      large: { status: "accepted" },
      output: "mine\n".length + WRITE_BYTES,
    });
  }, 60_000);
});
