/**
 * A WebSocket relay in front of a real server that works on messages rather than bytes: it passes
 * everything both ways, except the replies a test asks it to swallow, and can cut every relayed
 * connection (the client sees its transport end, the server its peer go). Notifications keep
 * flowing while a reply is swallowed, so a test can wait for a process's events before the cut.
 */
import type { ServerWebSocket } from "bun";

interface Relayed {
  upstream: WebSocket | null;
  /** Messages from the client that arrived before the upstream opened. */
  pending: Array<string | Uint8Array<ArrayBuffer>>;
}

/** A relay; disposing stops it and closes every relayed connection. */
export interface MessageRelay extends AsyncDisposable {
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /**
   * Swallows the reply to the next request of `method` a client sends; resolves once the server
   * has answered it (the request took effect) and the answer was dropped.
   */
  swallowReplyTo(method: string): Promise<void>;
  /** Drops the next request of `method` a client sends (it never reaches the server); resolves then. */
  dropRequestOf(method: string): Promise<void>;
  /** Ends every relayed connection, both sides: the client with 1011, the server's upstream too. */
  cut(): void;
}

/** Starts a relay to the WebSocket server at `target`. */
export function startMessageRelay(target: string): MessageRelay {
  let accepted = 0;
  const clients = new Set<ServerWebSocket<Relayed>>();
  /** Methods whose next request's reply is swallowed, with who waits for the swallow. */
  const wanted = new Map<string, PromiseWithResolvers<void>>();
  /** Methods whose next request is dropped, with who waits for the drop. */
  const dropped = new Map<string, PromiseWithResolvers<void>>();
  /** Request ids (per connection) whose reply is swallowed. */
  const doomed = new Map<ServerWebSocket<Relayed>, Map<number, PromiseWithResolvers<void>>>();
  const idOf = (text: string): { id?: unknown; method?: unknown } => {
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === "object" && value !== null ? value : {};
    } catch {
      return {};
    }
  };
  const server = Bun.serve<Relayed>({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, bunServer) =>
      bunServer.upgrade(request, {
          data: { upstream: null, pending: [] },
          headers: { "Sec-WebSocket-Protocol": "exec-server.v1" },
        })
        ? undefined
        : new Response(null, { status: 400 }),
    websocket: {
      open(client) {
        accepted++;
        clients.add(client);
        doomed.set(client, new Map());
        const upstream = new WebSocket(target, ["exec-server.v1"]);
        upstream.binaryType = "arraybuffer";
        client.data.upstream = upstream;
        upstream.addEventListener("open", () => {
          for (const message of client.data.pending) upstream.send(message);
          client.data.pending = [];
        });
        upstream.addEventListener("message", (event: MessageEvent) => {
          const data = event.data as string | ArrayBuffer;
          if (typeof data === "string") {
            const { id } = idOf(data);
            const swallow = typeof id === "number" ? doomed.get(client)?.get(id) : undefined;
            if (swallow !== undefined) {
              doomed.get(client)?.delete(id as number);
              swallow.resolve();
              return;
            }
            client.send(data);
          } else {
            client.send(new Uint8Array(data));
          }
        });
        upstream.addEventListener("close", () => client.close(1011, "upstream closed"));
      },
      message(client, message) {
        const payload = typeof message === "string" ? message : new Uint8Array(message);
        if (typeof payload === "string") {
          const { id, method } = idOf(payload);
          const drop = typeof method === "string" ? dropped.get(method) : undefined;
          if (drop !== undefined) {
            dropped.delete(method as string);
            drop.resolve();
            return;
          }
          const waiting = typeof method === "string" ? wanted.get(method) : undefined;
          if (waiting !== undefined && typeof id === "number") {
            wanted.delete(method as string);
            doomed.get(client)?.set(id, waiting);
          }
        }
        const upstream = client.data.upstream;
        if (upstream !== null && upstream.readyState === WebSocket.OPEN) upstream.send(payload);
        else client.data.pending.push(payload);
      },
      close(client) {
        clients.delete(client);
        doomed.delete(client);
        client.data.upstream?.close();
      },
    },
  });
  return {
    url: `ws://127.0.0.1:${server.port}`,
    get accepted() {
      return accepted;
    },
    swallowReplyTo(method) {
      const swallowed = Promise.withResolvers<void>();
      wanted.set(method, swallowed);
      return swallowed.promise;
    },
    dropRequestOf(method) {
      const drop = Promise.withResolvers<void>();
      dropped.set(method, drop);
      return drop.promise;
    },
    cut() {
      for (const client of clients) {
        client.data.upstream?.close();
        client.close(1011, "cut by the relay");
      }
    },
    async [Symbol.asyncDispose]() {
      for (const client of clients) client.data.upstream?.close();
      await server.stop(true);
    },
  };
}
