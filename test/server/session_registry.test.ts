import { describe, expect, test } from "bun:test";
import type { Runtime } from "../../src/runtime/mod.ts";
import type { SessionPeer } from "../../src/server/session.ts";
import { testRegistry } from "../helpers/server_context.ts";

const quietPeer: SessionPeer = {
  notify: () => {},
  output: () => {},
  backlog: () => 0,
  evict: () => {},
  congested: () => {},
};

describe("SessionRegistry", () => {
  test("an expired session asks the runtime to release memory", async () => {
    let releases = 0;
    // The registry reaches only releaseMemory of the runtime for a session without processes.
    const runtime = { name: "bun", releaseMemory: () => releases++ } as Partial<Runtime> as Runtime;
    const expired = Promise.withResolvers<void>();
    const registry = testRegistry(runtime, { sessionTtlMs: 1, onExpire: () => expired.resolve() });
    const session = registry.create(quietPeer);
    registry.detach(session, quietPeer);
    expect(releases).toBe(0);
    await expired.promise;
    expect(registry.size).toBe(0);
    expect(releases).toBe(1);
  });
});
