/**
 * The WebSocket floor of a runtime: a server on its native API (Bun.serve or Deno.serve, no Hono)
 * that sends every text message straight back. Prints its URL as the first stdout line, like the
 * exec-server. Run by bench/main.ts: `bun bench/ws_echo_server.ts` or `deno run -A …`.
 * @module
 */

/** The part of the Deno namespace used here (bun-types does not declare Deno). */
interface DenoApi {
  serve(
    options: { hostname: string; port: number; onListen: (address: { port: number }) => void },
    handler: (request: Request) => Response,
  ): unknown;
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
}

function serveBun(): void {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, bunServer) =>
      bunServer.upgrade(request, { data: undefined }) ? undefined : new Response(null, { status: 400 }),
    websocket: {
      message(ws, message) {
        ws.send(message);
      },
    },
  });
  console.log(`ws://127.0.0.1:${server.port}`);
}

function serveDeno(deno: DenoApi): void {
  deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (address) => console.log(`ws://127.0.0.1:${address.port}`),
  }, (request) => {
    const { socket, response } = deno.upgradeWebSocket(request);
    socket.onmessage = (event: MessageEvent<unknown>) => socket.send(String(event.data));
    return response;
  });
}

if (import.meta.main) {
  // Deno is a global only under Deno; bun-types does not declare it.
  const deno = (globalThis as unknown as { Deno?: DenoApi }).Deno;
  if (typeof Bun !== "undefined") serveBun();
  else if (deno !== undefined) serveDeno(deno);
  else throw new Error("ws_echo_server.ts runs under bun or deno");
}
