/**
 * `localhost` names two loopback addresses, 127.0.0.1 and ::1, and a client tries them in the
 * order its resolver gives (most hosts list `::1 localhost` in /etc/hosts, and prefer it). A
 * listener on one of them leaves the same port of the other free: any local process, a sandbox
 * whose network is on among them, could listen there and receive what a client sends to
 * `ws://localhost:PORT`, its token included. So a server told to listen on `localhost` listens on
 * both, at the same port.
 */
import type { HttpServer } from "../runtime/mod.ts";

/** How many ports a server listening on port 0 tries before it gives up. */
const ATTEMPTS = 8;

/** Errors that say the host has no IPv6 loopback at all: then 127.0.0.1 alone is `localhost`. */
const NO_IPV6 =
  /EADDRNOTAVAIL|EAFNOSUPPORT|AddrNotAvailable|cannot assign requested address|address family not supported/i;

/** `serve(hostname, port)` on 127.0.0.1 and on ::1 at the port the first got; one server to the caller. */
export async function serveLocalhost(
  serve: (hostname: string, port: number) => Promise<HttpServer>,
  port: number,
): Promise<HttpServer> {
  for (let attempt = 1;; attempt++) {
    const v4 = await serve("127.0.0.1", port);
    let v6: HttpServer;
    try {
      v6 = await serve("::1", v4.port);
    } catch (error) {
      if (NO_IPV6.test(describe(error))) return named(v4, null);
      await v4.stop(true);
      // Someone holds ::1 at that port: with a port of our choosing, take another one.
      if (port === 0 && attempt < ATTEMPTS) continue;
      throw new Error(
        `cannot listen on [::1]:${v4.port} as well as 127.0.0.1 for localhost: ${describe(error)}`,
        {
          cause: error,
        },
      );
    }
    return named(v4, v6);
  }
}

function named(v4: HttpServer, v6: HttpServer | null): HttpServer {
  return {
    hostname: "localhost",
    port: v4.port,
    stop: async (force) => {
      await Promise.all([v4.stop(force), v6?.stop(force)]);
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name} ${typeof code === "string" ? code : ""} ${error.message}`;
  }
  return String(error);
}
