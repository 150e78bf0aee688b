/**
 * A bare WebSocket server of the runtime, no exec-server code: every text message is answered with
 * the file named on the command line, read anew and sent as one binary message. It is what the
 * runtime alone does for a whole-file read in a binary frame (bench/readfile_probe.ts). Prints its
 * URL as the first stdout line, as the exec-server does.
 */
import process from "node:process";

const path = process.argv[2] ?? "";
if (path === "") throw new Error("usage: bare_file_server.ts FILE");

// Deno is a global only under Deno; bun-types does not declare it.
const deno = (globalThis as unknown as { Deno?: BareDeno }).Deno;

interface BareDeno {
  readFile(path: string): Promise<Uint8Array<ArrayBuffer>>;
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
  serve(
    options: { hostname: string; port: number; onListen: (address: { port: number }) => void },
    handler: (request: Request) => Response,
  ): unknown;
}

if (typeof Bun !== "undefined") {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, bunServer) {
      if (bunServer.upgrade(request)) return undefined;
      return new Response("WebSocket only", { status: 400 });
    },
    websocket: {
      perMessageDeflate: false,
      maxPayloadLength: 1 << 30,
      async message(ws) {
        ws.send(await Bun.file(path).bytes());
      },
    },
  });
  console.log(`ws://127.0.0.1:${server.port}`);
} else if (deno !== undefined) {
  deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(`ws://127.0.0.1:${port}`),
  }, (request) => {
    const { socket, response } = deno.upgradeWebSocket(request);
    socket.onmessage = async () => socket.send(await deno.readFile(path));
    return response;
  });
} else {
  throw new Error("bare_file_server.ts runs under bun or deno");
}
