/**
 * A logging WebSocket proxy: accepts clients on a loopback port, opens one upstream connection per
 * client and relays every message both ways unchanged, recording each frame with a timestamp and
 * its direction. Used by `codex_client.ts --trace` to see what Codex and a server say to each other.
 *
 *     bun test/e2e/ws_proxy.ts ws://127.0.0.1:PORT [--out frames.jsonl]
 *
 * prints the proxy's own `ws://127.0.0.1:PORT` as its first stdout line and writes one JSON line
 * per frame (`{t, conn, dir: ">" | "<" | "close", text}`) to `--out` or stderr. A Bun script.
 */
import { appendFileSync } from "node:fs";

/** One recorded frame. `>` is client to server, `<` server to client. */
export interface Frame {
  /** Milliseconds since the proxy started. */
  readonly t: number;
  /** Connection number, from 1. */
  readonly conn: number;
  readonly dir: ">" | "<" | "close";
  readonly text: string;
}

/** A running proxy; disposing stops it and closes every relayed connection. */
export interface WsProxy extends AsyncDisposable {
  readonly url: string;
  readonly frames: readonly Frame[];
  /**
   * Drops every relayed connection at once, both sides, without a Close frame: a network failure.
   * New connections are refused (HTTP 503) for `outageMs` after it.
   */
  drop(outageMs?: number): void;
}

interface ClientData {
  conn: number;
  upstream: WebSocket | null;
  pending: (string | Uint8Array<ArrayBuffer>)[];
}

/** Starts a proxy in front of `upstream`; `onFrame` sees every frame as it passes. */
export function startWsProxy(upstream: string, onFrame?: (frame: Frame) => void): WsProxy {
  const started = performance.now();
  const frames: Frame[] = [];
  let connections = 0;
  const upstreams = new Set<WebSocket>();
  const clients = new Set<{ terminate(): void }>();
  let refuseUntil = 0;
  const record = (conn: number, dir: Frame["dir"], data: string | ArrayBuffer | Uint8Array): void => {
    const text = typeof data === "string" ? data : `[binary] ${new TextDecoder().decode(data)}`;
    const frame: Frame = { t: Math.round(performance.now() - started), conn, dir, text };
    frames.push(frame);
    onFrame?.(frame);
  };
  const server = Bun.serve<ClientData>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, srv) {
      if (performance.now() < refuseUntil) return new Response("outage", { status: 503 });
      const ok = srv.upgrade(request, { data: { conn: ++connections, upstream: null, pending: [] } });
      return ok ? undefined : new Response("websocket only", { status: 400 });
    },
    websocket: {
      open(client) {
        clients.add(client);
        const data = client.data;
        const ws = new WebSocket(upstream);
        ws.binaryType = "arraybuffer";
        upstreams.add(ws);
        data.upstream = ws;
        ws.addEventListener("open", () => {
          for (const message of data.pending) ws.send(message);
          data.pending = [];
        });
        ws.addEventListener("message", (event: MessageEvent) => {
          const payload = event.data as string | ArrayBuffer; // binaryType is arraybuffer
          record(data.conn, "<", payload);
          client.send(typeof payload === "string" ? payload : new Uint8Array(payload));
        });
        ws.addEventListener("close", (event: CloseEvent) => {
          upstreams.delete(ws);
          record(data.conn, "close", `server closed: ${event.code} ${event.reason}`);
          client.close(event.code === 1005 || event.code === 1006 ? 1000 : event.code, event.reason);
        });
      },
      message(client, message) {
        const data = client.data;
        const payload = typeof message === "string" ? message : new Uint8Array(message);
        record(data.conn, ">", payload);
        const ws = data.upstream;
        if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(payload);
        else data.pending.push(payload);
      },
      close(client, code, reason) {
        clients.delete(client);
        record(client.data.conn, "close", `client closed: ${code} ${reason}`);
        client.data.upstream?.close();
      },
    },
  });
  return {
    url: `ws://127.0.0.1:${server.port}`,
    frames,
    drop(outageMs = 0) {
      refuseUntil = performance.now() + outageMs;
      for (const client of clients) client.terminate();
      // Bun's client WebSocket has terminate(); the DOM type does not declare it.
      for (const ws of upstreams) (ws as unknown as { terminate(): void }).terminate();
    },
    async [Symbol.asyncDispose]() {
      for (const ws of upstreams) ws.close();
      await server.stop(true);
    },
  };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const target = args[0];
  const outIndex = args.indexOf("--out");
  const out = outIndex === -1 ? undefined : args[outIndex + 1];
  if (target === undefined || !target.startsWith("ws://")) {
    process.stderr.write("usage: bun test/e2e/ws_proxy.ts ws://HOST:PORT [--out FILE]\n");
    process.exit(2);
  }
  const proxy = startWsProxy(target, (frame) => {
    const line = JSON.stringify(frame) + "\n";
    if (out === undefined) process.stderr.write(line);
    else appendFileSync(out, line);
  });
  console.log(proxy.url);
}
