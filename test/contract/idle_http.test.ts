import { describe, expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { RawSocket } from "../helpers/raw_socket.ts";
import { RUNTIMES, serverCommand, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import type { TestClient } from "../helpers/client.ts";
import { startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const DESCRIPTOR_LIMIT = 64;
/** Twice the limit, all held open by the peer: the server cannot take them all. */
const FLOOD = 2 * DESCRIPTOR_LIMIT;
/** The states of /proc/net/tcp that hold nothing of the server's: LISTEN and TIME_WAIT. */
const HOLDING_NOTHING = new Set(["0A", "06"]);
/** How often a flood connection is tried before it is given up. */
const FLOOD_ATTEMPTS = 50;
/** Between two tries to connect. */
const POLL_MS = 20;

/** A raw TCP connection to `url`'s listener that has written `text`; `ended` resolves when the server ends it. */
async function rawConnection(url: string, text: string): Promise<{ socket: Socket; ended: Promise<void> }> {
  const { hostname, port } = new URL(url.replace(/^ws:/, "http:"));
  const socket = connect({ host: hostname, port: Number(port) });
  socket.on("error", () => {});
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  if (text !== "") socket.write(text);
  return { socket, ended };
}

/** How many descriptors the server holds. */
async function descriptorsOf(server: TestServer): Promise<number> {
  return (await readdir(`/proc/${server.child.pid ?? 0}/fd`)).length;
}

/**
 * The connections to `server`'s port on the server's side (/proc/net/tcp, IPv4: it listens on
 * 127.0.0.1): accepted ones, those waiting to be accepted (ESTABLISHED in the queue, SYN_RECV while
 * Bun's listener defers a silent one), and those being closed; not the listener, not TIME_WAIT.
 */
async function serverSideConnections(server: TestServer): Promise<number> {
  const port = Number(new URL(server.httpUrl).port);
  let count = 0;
  for (const line of (await readFile("/proc/net/tcp", "latin1")).split("\n").slice(1)) {
    const [, local, , state] = line.trim().split(/\s+/);
    if (local === undefined || state === undefined) continue;
    if (parseInt(local.slice(local.indexOf(":") + 1), 16) === port && !HOLDING_NOTHING.has(state)) count++;
  }
  return count;
}

/** The first session that the server accepts, trying again while it refuses or resets. */
async function untilAccepting(server: TestServer): Promise<TestClient> {
  for (;;) {
    try {
      return await server.session();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

describe.each(RUNTIMES)("HTTP connections that hold a descriptor without a request on %s", (runtime) => {
  test("silent, half-sent and idle keep-alive connections end after --http-idle-timeout; a WebSocket stays", async () => {
    await using server = await startServer({ runtime, args: ["--http-idle-timeout", "2"] });
    await using client = await server.session();
    const { port } = new URL(server.httpUrl);
    const held = await Promise.all([
      rawConnection(server.url, ""),
      rawConnection(server.url, "GET / HT"),
      rawConnection(
        server.url,
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`,
      ),
    ]);
    const keepAlive = await rawConnection(
      server.url,
      `GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
    );
    const answered = await new Promise<string>((resolve) =>
      keepAlive.socket.once("data", (data: Buffer) => resolve(data.toString("latin1")))
    );
    expect(answered).toStartWith("HTTP/1.1 200");
    // Each ends without the client doing anything: the test's timeout is the failure.
    await Promise.all([...held, keepAlive].map((connection) => connection.ended));
    // The WebSocket, idle as long as they were, is served.
    expect(await client.call("process/list", {})).toEqual({ processes: [] });
  });

  test("silent connections that used up the descriptors are ended, and the server serves again while the peer holds them", async () => {
    await using server = await startServer({
      runtime,
      command: ["prlimit", `--nofile=${DESCRIPTOR_LIMIT}`, ...serverCommand(runtime)],
      args: ["--http-idle-timeout", "2"],
    });
    await using dir = await tempDir();
    // Whatever the server opens once (its first spawn's) is open by now; the session is gone.
    {
      await using warm = await server.session();
      await warm.call("process/start", startParams("warm", ["/bin/echo", "ok"], dir.path));
      await warm.untilClosed("warm");
    }
    while (await serverSideConnections(server) > 0) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const before = await descriptorsOf(server);
    // Watched while the flood comes: what the case is about is a server without descriptors.
    const usedUp = (async () => {
      while (await descriptorsOf(server) < DESCRIPTOR_LIMIT - 1) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    })();
    // Awaited below; a server that dies meanwhile fails the case there, not as an unhandled rejection.
    usedUp.catch(() => {});
    // Each connection is tried again while the server refuses or resets it (Deno's listener resets
    // its backlog when it closes at EMFILE), as a flood that keeps coming does.
    const flood = await Promise.all(Array.from({ length: FLOOD }, async () => {
      for (let attempt = 0; attempt < FLOOD_ATTEMPTS; attempt++) {
        const connection = await rawConnection(server.url, "").catch(() => null);
        if (connection !== null) return connection;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      return null;
    }));
    try {
      await usedUp;
      // The sweep needs no descriptor of its own to end them: the peer never lets go. Until the
      // last is ended, a connection still waiting to be accepted takes each descriptor the sweep
      // frees (Bun's listener hands it silent connections a second late, a whole queue at once), so
      // a start in between may meet EMFILE: the server serves again once it holds none of them and
      // has given back every descriptor they took. (Deno drops the ones still queued when its listener
      // closes; their peers never learn, so the peer's side is no measure.)
      while (
        await serverSideConnections(server) > 0 || await descriptorsOf(server) > before
      ) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      await using client = await untilAccepting(server);
      await client.call("process/start", startParams("after", ["/bin/echo", "ok"], dir.path));
      const read = await client.call("process/read", { processId: "after", afterSeq: 0, waitMs: 10_000 });
      expect(read["chunks"]).toEqual([{
        seq: 1,
        stream: "stdout",
        chunk: Buffer.from("ok\n").toString("base64"),
      }]);
    } finally {
      for (const connection of flood) connection?.socket.destroy();
    }
  });

  test("a WebSocket without a session is closed after --http-idle-timeout, even while it answers pings", async () => {
    await using server = await startServer({ runtime, args: ["--http-idle-timeout", "2"] });
    await using silent = await RawSocket.upgrade(server.url);
    expect(silent.head.status).toBe(101);
    // A client that answers every ping, and whose initialize the session limit could refuse.
    await using client = await server.connect();
    await silent.ended;
    await client.closed;
    await using session = await server.session();
    expect(await session.call("process/list", {})).toEqual({ processes: [] });
  });
});
