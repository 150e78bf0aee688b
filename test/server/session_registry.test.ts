import { describe, expect, test } from "bun:test";
import { RunningCounter } from "../../src/process/mod.ts";
import type { Runtime } from "../../src/runtime/mod.ts";
import type { SessionPeer } from "../../src/server/session.ts";
import { SessionRegistry } from "../../src/server/session_registry.ts";

const quietPeer: SessionPeer = { notify: () => {}, backlog: () => 0, evict: () => {}, congested: () => {} };

describe("SessionRegistry", () => {
  test("an expired session asks the runtime to release memory", async () => {
    let releases = 0;
    // The registry reaches only releaseMemory of the runtime for a session without processes.
    const runtime = { name: "bun", releaseMemory: () => releases++ } as Partial<Runtime> as Runtime;
    const expired = Promise.withResolvers<void>();
    const registry = new SessionRegistry(runtime, {
      options: {
        sessionTtlMs: 1,
        maxSessions: 10,
        processes: {
          retainedOutputBytes: 1024,
          processRetentionMs: 60_000,
          killGraceMs: 1000,
          maxProcessesPerSession: 10,
          serverCounter: new RunningCounter(10),
        },
      },
      planner: { plan: () => Promise.resolve(null) },
      serverEnv: {},
      onExpire: () => expired.resolve(),
    });
    const session = registry.create(quietPeer);
    registry.detach(session, quietPeer);
    expect(releases).toBe(0);
    await expired.promise;
    expect(registry.size).toBe(0);
    expect(releases).toBe(1);
  });
});
