import { connect, createServer } from "node:net";
import type { Socket } from "node:net";

/** A TCP relay in front of a server, whose connections a test can cut (the transport dies, not the server). */
export interface TcpProxy extends AsyncDisposable {
  /** `ws://127.0.0.1:PORT` of the relay. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every relayed connection, both sides, dropping held bytes; holds end. */
  cut(): void;
  /** While set, new connections are closed at once (the server is unreachable). */
  refuse: boolean;
  /** Keeps the client's bytes from the server until the next cut. */
  holdUpstream(): void;
  /** Keeps the server's bytes from the client until the next cut. */
  holdDownstream(): void;
  /** Resolves once some bytes are held. */
  whenHeld(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** Starts a relay to the WebSocket server at `target` (`ws://host:port`). */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<Pair>();
  let accepted = 0;
  let holding: "none" | "up" | "down" = "none";
  let held = Promise.withResolvers<void>();
  const relay = (from: Socket, to: Socket, direction: "up" | "down"): void => {
    from.on("data", (data: Buffer) => {
      if (holding === direction) {
        held.resolve();
        return;
      }
      if (!to.write(data)) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    });
    from.on("close", () => to.destroy());
    from.on("error", () => to.destroy());
  };
  const proxy = {
    refuse: false,
    get accepted() {
      return accepted;
    },
  };
  const server = createServer((client) => {
    if (proxy.refuse) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect(Number(port), hostname);
    const pair = { client, upstream };
    pairs.add(pair);
    client.on("close", () => pairs.delete(pair));
    relay(client, upstream, "up");
    relay(upstream, client, "down");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no port");
  return Object.assign(proxy, {
    url: `ws://127.0.0.1:${address.port}`,
    cut() {
      holding = "none";
      held = Promise.withResolvers<void>();
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    holdUpstream() {
      holding = "up";
    },
    holdDownstream() {
      holding = "down";
    },
    whenHeld() {
      return held.promise;
    },
    async [Symbol.asyncDispose]() {
      proxy.refuse = true;
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
