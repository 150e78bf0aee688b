/**
 * A session's output flow (PROTOCOL.md §5.5, §5.12): output held back until its `process/start`
 * result is sent counts towards the backlog bound like output already sent.
 */
import { describe, expect, test } from "bun:test";
import { METHODS } from "../../src/protocol/mod.ts";
import { detectRuntime } from "../../src/runtime/mod.ts";
import { BACKLOG_HIGH_BYTES } from "../../src/server/session.ts";
import type { SessionPeer } from "../../src/server/session.ts";
import { testRegistry } from "../helpers/server_context.ts";

const FLOOD_BYTES = 4 * BACKLOG_HIGH_BYTES;

/** A peer that takes everything at once (no backlog) and counts the output bytes it was given. */
function countingPeer(): SessionPeer & { received: () => number; congestedOnce: Promise<void> } {
  let received = 0;
  const congested = Promise.withResolvers<void>();
  return {
    notify: () => {},
    output: (_processId, _chunk, bytes) => {
      received += bytes.byteLength;
    },
    backlog: () => 0,
    evict: () => {},
    congested: () => congested.resolve(),
    received: () => received,
    congestedOnce: congested.promise,
  };
}

describe("a session's output", () => {
  test(
    "held back until the start result is sent, it stops at the backlog bound, and all of it arrives once released",
    async () => {
      const runtime = await detectRuntime();
      const registry = testRegistry(runtime);
      const peer = countingPeer();
      const session = registry.create(peer);
      // What the connection does for a `process/start` whose reply is still on its way: under load
      // that took 26–140 ms after the spawn, and the pump read 45–170 MiB of a flood meanwhile.
      const release = session.holdNotifications("flood");
      await session.processes.start(METHODS["process/start"].params.parse({
        processId: "flood",
        argv: ["/usr/bin/head", "-c", String(FLOOD_BYTES), "/dev/zero"],
        cwd: "/",
        env: {},
        tty: false,
      }));
      const first = await Promise.race([
        peer.congestedOnce.then(() => "stopped at the bound"),
        session.processes.drained().then(() => "read to its end while held"),
      ]);
      expect(first).toBe("stopped at the bound");
      expect(session.outputPaused).toBe(true);
      release();
      // The held output went to a peer with no backlog: nothing is left to wait for.
      expect(session.outputPaused).toBe(false);
      await session.processes.drained();
      expect(peer.received()).toBe(FLOOD_BYTES);
    },
    30_000,
  );
});
