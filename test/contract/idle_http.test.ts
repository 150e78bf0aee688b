import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { RUNTIMES, startServer } from "../helpers/server.ts";

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

describe.each(RUNTIMES)("HTTP connections that hold a descriptor without a request on %s", (runtime) => {
  test("silent, half-sent and idle keep-alive connections end after --http-idle-timeout; a WebSocket stays", async () => {
    await using server = await startServer({ runtime, args: ["--http-idle-timeout", "1"] });
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
});
