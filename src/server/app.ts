import { Hono } from "hono";
import type { PeerAddress, Upgrader, WsConnection } from "../runtime/mod.ts";
import { decodeUtf8 } from "../rpc/mod.ts";
import type { TokenAuth } from "./auth.ts";
import { offeredProtocols } from "./auth.ts";
import { Connection } from "./connection.ts";
import type { ConnectionSlot, ConnectionSlots } from "./connection_slots.ts";
import type { ServerContext } from "./server_context.ts";
import type { Metrics } from "./metrics.ts";

/** Close status for a connection the server gives up on (§2.4). */
const POLICY_VIOLATION = 1008;

/** The subprotocol selected when offered (§1.3 rule 4). */
const SUBPROTOCOL = "exec-server.v1";

/** What the HTTP app needs beyond the shared context. */
export interface AppDeps {
  readonly context: ServerContext;
  readonly allowOrigins: readonly string[];
  /** Why a peer may not use the listener (`null`: it may); see `local_peer.ts`. */
  readonly refusePeer: (peer: PeerAddress | null) => Promise<string | null>;
  /** Whether a request's `Host` is admitted; null admits every Host (a non-loopback listener). */
  readonly hostAllowed: ((header: string | null) => boolean) | null;
  readonly auth: TokenAuth | null;
  readonly metrics: Metrics;
  /** Whether the server still accepts connections (`/readyz`). */
  readonly accepting: () => boolean;
  /** Live connections, for shutdown. */
  readonly connections: Set<{ connection: Connection; ws: WsConnection }>;
  /**
   * A WebSocket whose handshake (§3.1) is not done this long after it opened is cut off;
   * 0: never (`--http-idle-timeout`).
   */
  readonly handshakeMs: number;
  /** The WebSocket connections held at once (`--max-connections`). */
  readonly slots: ConnectionSlots;
}

/** The Hono app: health endpoints, `/metrics`, and the WebSocket upgrade at `/` (PROTOCOL.md §1.2–1.3). */
export function createApp(deps: AppDeps): Hono<{ Bindings: AppBindings }> {
  const app = new Hono<{ Bindings: AppBindings }>();
  const origins = new Set(deps.allowOrigins.map((origin) => origin.toLowerCase()));
  const hostAllowed = deps.hostAllowed;

  if (hostAllowed !== null) {
    app.use(async (c, next) => {
      if (!hostAllowed(c.req.header("host") ?? null)) return c.body(null, 403);
      await next();
    });
  }

  app.all("/readyz", (c) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return c.body(null, 405);
    return c.body(null, deps.accepting() ? 200 : 503);
  });
  app.all(
    "/livez",
    (c) => (c.req.method === "GET" || c.req.method === "HEAD" ? c.body(null, 200) : c.body(null, 405)),
  );
  app.all("/metrics", async (c) => {
    if (c.req.method !== "GET") return c.body(null, 405);
    if (await refused(deps, c.env.peer)) return c.body(null, 403);
    if (deps.auth !== null && !(await deps.auth.admits(c.req.raw))) {
      return c.body(null, 401, { "WWW-Authenticate": "Bearer" });
    }
    return c.body(deps.metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4" });
  });
  app.all("/", async (c) => {
    const request = c.req.raw;
    const isUpgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
    if (!isUpgrade) {
      if (c.req.method !== "GET") return c.body(null, 405);
      return c.text("exec-server: connect with a WebSocket client\n", 400);
    }
    const origin = request.headers.get("origin");
    if (origin !== null && !origins.has(origin.toLowerCase())) return c.body(null, 403);
    if (deps.auth !== null && !(await deps.auth.admits(request))) {
      return c.body(null, 401, { "WWW-Authenticate": "Bearer" });
    }
    if (await refused(deps, c.env.peer)) return c.body(null, 403);
    if (!deps.accepting()) return c.body(null, 503);
    const slot = deps.slots.take();
    if (slot === null) {
      deps.context.log.info("connection refused", { reason: `more than ${deps.slots.limit} connections` });
      return c.body(null, 503, { "Retry-After": "1" });
    }
    const protocol = offeredProtocols(request).includes(SUBPROTOCOL) ? SUBPROTOCOL : null;
    const response = c.env.upgrade(request, { protocol, handlers: connectionHandlers(deps, slot) });
    // The runtime refused the upgrade (a malformed request): no socket holds the slot.
    if (response.status === 400) slot.release();
    return response;
  });
  app.notFound((c) => c.body(null, 404));
  return app;
}

/** What the runtime hands the app with each request. */
export interface AppBindings {
  readonly upgrade: Upgrader;
  readonly peer: PeerAddress | null;
}

/** Whether the peer is refused; the reason goes to the log, never to the peer. */
async function refused(deps: AppDeps, peer: PeerAddress | null): Promise<boolean> {
  const reason = await deps.refusePeer(peer);
  if (reason !== null) deps.context.log.info("connection refused", { reason });
  return reason !== null;
}

function connectionHandlers(deps: AppDeps, slot: ConnectionSlot): Parameters<Upgrader>[1]["handlers"] {
  let entry: { connection: Connection; ws: WsConnection } | null = null;
  let handshake: ReturnType<typeof setTimeout> | null = null;
  return {
    onOpen(ws) {
      slot.opened();
      const connection: Connection = new Connection({
        send: (text) => ws.send(text),
        sendBinary: (frame) => ws.send(frame),
        backlog: () => ws.bufferedAmount(),
        close: (code, reason) => {
          ws.close(code, reason);
          // A peer that never answers the Close frame can keep the TCP stream open (Deno waits
          // for it); the connection is over for the server either way, so the session detaches now.
          connection.closed();
        },
        terminate: (code, reason) => {
          ws.terminate(code, reason);
          connection.closed();
        },
        description: `websocket ${ws.remote}`,
      }, deps.context);
      entry = { connection, ws };
      deps.connections.add(entry);
      deps.metrics.connectionsOpened++;
      // A connection that answers pings is never idle, and one without a session is bounded by no
      // limit: each would hold its descriptor (and whatever its unfinished message holds) for good.
      if (deps.handshakeMs > 0) {
        handshake = setTimeout(() => {
          handshake = null;
          if (connection.ready || connection.isClosed) return;
          deps.context.log.info("connection cut off", { reason: "no session", remote: ws.remote });
          ws.terminate(POLICY_VIOLATION, `no initialized within ${deps.handshakeMs / 1000} s`);
          connection.closed();
        }, deps.handshakeMs);
      }
    },
    onMessage(_ws, data) {
      if (entry === null) return;
      deps.metrics.messagesReceived++;
      if (typeof data === "string") {
        entry.connection.receive(data);
        return;
      }
      const text = decodeUtf8(data);
      if (text === null) entry.connection.receiveUndecodable("invalid UTF-8 in binary message");
      else entry.connection.receive(text);
    },
    onClose() {
      if (handshake !== null) clearTimeout(handshake);
      handshake = null;
      slot.release();
      if (entry === null) return;
      deps.connections.delete(entry);
      entry.connection.closed();
      deps.metrics.connectionsClosed++;
      // The last client gone is the quiet moment: what its replies left is garbage, and no reply
      // follows to fault released pages in again (a client's back-to-back reads keep it connected).
      if (deps.connections.size === 0) deps.context.releaseDeferredMemory();
    },
    onDrain() {
      entry?.connection.drained();
    },
  };
}
