/**
 * A `ServerContext` and a `SessionRegistry` for unit cases of the server's parts: small limits,
 * nothing logged or counted, no fs. Cases override what they watch.
 */
import { METHODS } from "../../src/protocol/mod.ts";
import type { EnvironmentInfo } from "../../src/protocol/mod.ts";
import { ClosedOutput, InputBudget, LiveOutput, RunningCounter } from "../../src/process/mod.ts";
import { bindHandlers } from "../../src/rpc/mod.ts";
import type { Runtime } from "../../src/runtime/mod.ts";
import { SERVER_HANDLERS } from "../../src/server/handlers.ts";
import { OutboundBudget } from "../../src/server/outbound_budget.ts";
import { ReplyGate } from "../../src/server/reply_gate.ts";
import type { ServerContext } from "../../src/server/server_context.ts";
import type { Session } from "../../src/server/session.ts";
import { SessionRegistry } from "../../src/server/session_registry.ts";

/** A registry of at most 10 sessions of 10 processes on `runtime`. */
export function testRegistry(
  runtime: Runtime,
  options: { sessionTtlMs?: number; onExpire?: (session: Session) => void } = {},
): SessionRegistry {
  return new SessionRegistry(runtime, {
    options: {
      sessionTtlMs: options.sessionTtlMs ?? 60_000,
      maxSessions: 10,
      processes: {
        retainedOutputBytes: 1024,
        processRetentionMs: 60_000,
        killGraceMs: 1000,
        maxProcessesPerSession: 10,
        writeIdsKept: 1024,
        serverCounter: new RunningCounter(10),
        inputBudget: new InputBudget(16 * 1024 * 1024),
        closedOutput: new ClosedOutput(128 * 1024),
        liveOutput: new LiveOutput(128 * 1024),
      },
    },
    planner: { plan: () => Promise.resolve(null) },
    serverEnv: { PATH: "/usr/bin:/bin" },
    onExpire: options.onExpire ?? (() => {}),
  });
}

/** A context around `registry`, with `overrides` in place of its parts. */
export function testContext(
  registry: SessionRegistry,
  overrides: Partial<ServerContext> = {},
): ServerContext {
  return {
    registry,
    routes: bindHandlers(METHODS, SERVER_HANDLERS),
    // The handshake copies this object into its result; its content does not matter here.
    environmentInfo: {} as EnvironmentInfo,
    options: { maxInflightRequests: 100, maxMessageBytes: 1 << 20, maxReplyBytes: 1 << 27 },
    log: { info: () => {}, error: () => {} },
    countReply: () => {},
    openFsConnection: () => ({
      run: () => Promise.reject(new Error("no fs")),
      readFile: () => Promise.reject(new Error("no fs")),
      readDirectorySmall: () => Promise.reject(new Error("no fs")),
      walkSmall: () => Promise.reject(new Error("no fs")),
      readFilePayload: () => Promise.reject(new Error("no fs")),
      close: () => Promise.resolve(),
    }),
    outbound: new OutboundBudget(1 << 30),
    replyGate: new ReplyGate(),
    countCutOff: () => {},
    traffic: { add: () => {} },
    releaseMemory: () => {},
    releaseAfterSending: true,
    releaseDeferredMemory: () => {},
    ...overrides,
  };
}
