import { describe, expect, test } from "bun:test";
import { runServer } from "../helpers/run_servers.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const COUNT = 64;

describe.each(RUNTIMES)("many processes on %s", (runtime) => {
  test("process/terminate of 64 processes at once closes every one with 137", async () => {
    const server = await runServer(runtime);
    await using dir = await tempDir();
    await using client = await server.session();
    const ids = Array.from({ length: COUNT }, (_, i) => `p${i}`);
    await Promise.all(
      ids.map((id) => client.call("process/start", startParams(id, ["sleep", "60"], dir.uri))),
    );
    const answers = await Promise.all(ids.map((id) => client.call("process/terminate", { processId: id })));
    expect(answers).toEqual(ids.map(() => ({ running: true })));
    const exits = await Promise.all(ids.map(async (id) => {
      const events = await client.untilClosed(id);
      return events.find((event) => event.method === "process/exited");
    }));
    expect(exits).toEqual(ids.map((_, i) => ({
      method: "process/exited",
      seq: exits[i]?.seq ?? 0,
      exitCode: 137,
      sandboxDenied: false,
    })));
  }, 15_000);

  test("process/read polls that time out on a silent process leave the server serving", async () => {
    await using server = await startServer({ runtime, args: ["--max-inflight-requests", "4096"] });
    await using dir = await tempDir();
    await using client = await server.session();
    await client.call("process/start", startParams("quiet", ["sleep", "60"], dir.uri));
    const polls = await Promise.all(
      Array.from({ length: 2_000 }, () => client.call("process/read", { processId: "quiet", waitMs: 1 })),
    );
    expect(new Set(polls.map((poll) => JSON.stringify(poll)))).toEqual(
      new Set([JSON.stringify({
        chunks: [],
        nextSeq: 1,
        exited: false,
        exitCode: null,
        closed: false,
        failure: null,
        sandboxDenied: false,
        droppedBytes: 0,
      })]),
    );
    await client.call("process/terminate", { processId: "quiet" });
    await client.untilClosed("quiet");
  });
});
