import { describe, expect, test } from "bun:test";
import type { UpgradeOptions, WsConnection, WsHandlers } from "../../src/runtime/mod.ts";
import { createApp } from "../../src/server/app.ts";
import { ConnectionSlots } from "../../src/server/connection_slots.ts";
import type { AppDeps } from "../../src/server/app.ts";
import { Metrics } from "../../src/server/metrics.ts";
import type { SessionRegistry } from "../../src/server/session_registry.ts";
import { testContext } from "../helpers/server_context.ts";

/** A socket that takes whatever it is sent; the cases only open and close connections. */
function fakeSocket(port: number): WsConnection {
  return {
    send: () => {},
    bufferedAmount: () => 0,
    close: () => {},
    terminate: () => {},
    remote: `127.0.0.1:${port}`,
  };
}

/** An app whose upgrades hand their handlers to the case, and what it asked of the context. */
function appUnderTest(slots = new ConnectionSlots(1024)) {
  const asked = { deferredReleases: 0 };
  // No connection here sends `initialize`, so none reaches the registry.
  const context = testContext({} as SessionRegistry, {
    releaseDeferredMemory: () => void asked.deferredReleases++,
  });
  const deps: AppDeps = {
    context,
    allowOrigins: [],
    refusePeer: () => Promise.resolve(null),
    hostAllowed: null,
    auth: null,
    metrics: new Metrics(() => ({})),
    accepting: () => true,
    connections: new Set(),
    handshakeMs: 0,
    slots,
  };
  const app = createApp(deps);
  let nextPort = 40_000;
  /** Upgrades one request and opens its connection; resolves with the connection's handlers. */
  const connect = async (): Promise<{ handlers: WsHandlers; ws: WsConnection }> => {
    let handlers: WsHandlers | null = null;
    const upgrade = (_request: Request, options: UpgradeOptions): Response => {
      handlers = options.handlers;
      return new Response(null, { status: 200 });
    };
    const request = new Request("http://127.0.0.1/", { headers: { upgrade: "websocket" } });
    await app.fetch(request, { upgrade, peer: null });
    if (handlers === null) throw new Error("the app did not upgrade the request");
    const ws = fakeSocket(nextPort++);
    (handlers as WsHandlers).onOpen(ws);
    return { handlers, ws };
  };
  return { asked, deps, connect };
}

describe("createApp", () => {
  test("releases deferred memory when the last connection closes, not before", async () => {
    const { asked, deps, connect } = appUnderTest();
    const first = await connect();
    const second = await connect();
    expect(deps.connections.size).toBe(2);
    first.handlers.onClose(first.ws, 1000, "");
    expect(asked.deferredReleases).toBe(0);
    second.handlers.onClose(second.ws, 1000, "");
    expect(deps.connections.size).toBe(0);
    expect(asked.deferredReleases).toBe(1);
  });

  test("an upgrade past the connection slots is answered 503; a closed or refused one gives its slot back", async () => {
    const slots = new ConnectionSlots(1);
    const { deps, connect } = appUnderTest(slots);
    const app = createApp(deps);
    const first = await connect();
    expect(slots.taken).toBe(1);
    const refused = await app.fetch(new Request("http://127.0.0.1/", { headers: { upgrade: "websocket" } }), {
      upgrade: () => {
        throw new Error("no upgrade past the limit");
      },
      peer: null,
    });
    expect(refused.status).toBe(503);
    first.handlers.onClose(first.ws, 1000, "");
    // A second close callback gives back nothing more.
    first.handlers.onClose(first.ws, 1000, "");
    expect(slots.taken).toBe(0);
    const badUpgrade = await app.fetch(
      new Request("http://127.0.0.1/", { headers: { upgrade: "websocket" } }),
      {
        upgrade: () => new Response("expected a websocket upgrade", { status: 400 }),
        peer: null,
      },
    );
    expect(badUpgrade.status).toBe(400);
    expect(slots.taken).toBe(0);
  });

  test("a slot whose socket never opens comes back after the open wait", async () => {
    const slots = new ConnectionSlots(1, 10);
    const slot = slots.take();
    expect(slots.take()).toBeNull();
    // The slot's own timer gives it back; the test waits for that fact.
    while (slots.taken !== 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(slot).not.toBeNull();
    const opened = slots.take();
    opened?.opened();
    expect(slots.taken).toBe(1);
    opened?.release();
    expect(slots.taken).toBe(0);
  });
});
