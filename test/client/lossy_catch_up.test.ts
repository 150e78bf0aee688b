/**
 * A handle whose catch-up read is lost with its connection more often than a call is sent again:
 * the session survives, so the handle's events go on once a connection holds, instead of ending
 * with `connectionClosed` while its process runs on.
 */
import { describe, expect, test } from "bun:test";
import { RemoteEnvironment } from "../../src/client/mod.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import { rejectionOf } from "../helpers/rejection.ts";
import { realEnvironmentInfo, reply, standInServer, welcome } from "../helpers/stand_in_server.ts";

describe("a handle's catch-up across connections lost with its read in flight", () => {
  const real = sharedServer("bun");
  const info = realEnvironmentInfo(real);

  /** A stand-in whose first `lossy` connections end at their first process/read. */
  function lossyServer(lossy: number): { server: ReturnType<typeof standInServer>; reads(): number } {
    let reads = 0;
    const server = standInServer((ws, message, connection) => {
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      const processId = String(message.params?.["processId"]);
      if (message.method === "process/start") {
        reply(ws, message, { processId, sandboxType: "none" });
        // Seq 1 never comes as a notification: the handle reads it from the log.
        const params = { processId, seq: 2, stream: "stdout", chunk: btoa("b") };
        ws.send(JSON.stringify({ method: "process/output", params }));
      }
      if (message.method === "process/read") {
        reads++;
        if (connection <= lossy) {
          ws.close(1011, "gone");
          return;
        }
        const afterSeq = Number(message.params?.["afterSeq"] ?? 0);
        const log = [{ seq: 1, stream: "stdout", chunk: btoa("a") }, {
          seq: 2,
          stream: "stdout",
          chunk: btoa("b"),
        }];
        reply(ws, message, {
          chunks: log.filter((chunk) => chunk.seq > afterSeq),
          nextSeq: 5,
          exited: true,
          exitCode: 0,
          closed: true,
          failure: null,
          sandboxDenied: false,
          droppedBytes: 0,
        });
      }
    });
    return { server, reads: () => reads };
  }

  async function eventsOf(url: string): Promise<string[]> {
    await using env = await RemoteEnvironment.connect(url);
    const handle = await env.exec.start({ argv: ["true"], cwd: "/" });
    const seen: string[] = [];
    for await (const event of handle.events) {
      seen.push(event.type === "output" ? new TextDecoder().decode(event.data) : event.type);
    }
    return seen;
  }

  test("the events continue once a connection answers the read", async () => {
    // As many as a call is sent on: the read that sees the third loss fails, and the catch-up
    // starts again on the next connection, which answers.
    const { server, reads } = lossyServer(3);
    await using standIn = server;
    expect(await eventsOf(standIn.url)).toEqual(["a", "b", "exited", "closed"]);
    expect(reads()).toBeGreaterThan(3);
  });

  test("a server that ends the connection at every read of the process ends the events, not for ever", async () => {
    const { server, reads } = lossyServer(Number.POSITIVE_INFINITY);
    await using standIn = server;
    expect(await rejectionOf(eventsOf(standIn.url))).toMatchObject({ reason: "connectionClosed" });
    // Four catch-ups of three connections each.
    expect(reads()).toBe(12);
  });
});
