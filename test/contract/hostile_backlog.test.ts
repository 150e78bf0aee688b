import { describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LIST_WITHOUT_ROOM } from "../../src/process/mod.ts";
import { RawSocket } from "../helpers/raw_socket.ts";
import { StallingClient } from "../helpers/stalling_client.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const LOG_BYTES = 262_144;
const READS = 300;
const MIB = 1024 * 1024;
/**
 * Clients that each ask for an 8 MiB file and read nothing: each keeps a slot up to a second after its
 * reply, so the line drains in about 11 s, long past the other client's answers on a loaded machine
 * (with 16, the test took 6.5 s at a load of 14).
 */
const STALLED_READERS = 24;

async function rssOf(server: TestServer): Promise<number> {
  const status = await readFile(`/proc/${server.child.pid ?? 0}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? "0") * 1024;
}

async function gauge(server: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return Number(new RegExp(`^exec_server_${name} (\\d+)$`, "m").exec(text)?.[1] ?? "0");
}

async function messagesReceived(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return Number(/^exec_server_messages_received_total (\d+)$/m.exec(text)?.[1] ?? "0");
}

describe.each(RUNTIMES)("a client that stops reading on %s", (runtime) => {
  test("gets every reply once it reads again, while the server holds its requests", async () => {
    await using server = await startServer({
      runtime,
      args: ["--retained-output-bytes", String(LOG_BYTES)],
    });
    await using dir = await tempDir();
    await using raw = await RawSocket.upgrade(server.url);
    raw.send(JSON.stringify({ id: "init", method: "initialize", params: { clientName: "slow" } }));
    await raw.waitForMessage((message) => message["id"] === "init");
    raw.send(JSON.stringify({ method: "initialized", params: {} }));
    const start = startParams("log", ["head", "-c", String(LOG_BYTES), "/dev/zero"], dir.uri);
    raw.send(JSON.stringify({ id: "start", method: "process/start", params: start }));
    await raw.waitForMessage((message) => message["method"] === "process/closed");
    const baseline = await rssOf(server);
    const before = await messagesReceived(server);

    // Each read answers with the whole 256 KiB log (350 KB of JSON): 100 MB unread in all.
    raw.socket.pause();
    for (let i = 0; i < READS; i++) {
      raw.send(JSON.stringify({ id: i, method: "process/read", params: { processId: "log" } }));
    }
    // The server has taken in every read once its message counter says so.
    while (await messagesReceived(server) < before + READS) {
      // Each /metrics round trip yields to the event loop; the count only grows.
    }
    expect(await rssOf(server) - baseline).toBeLessThan(48 * MIB);

    const textFrames = (): number => raw.frames.filter((frame) => frame.opcode === 1).length;
    const expected = textFrames() + READS;
    const allIn = new Promise<void>((resolve) => {
      const check = (): void => {
        if (textFrames() < expected) return;
        raw.socket.off("data", check);
        resolve();
      };
      raw.socket.on("data", check);
    });
    raw.socket.resume();
    await allIn;
    const replies = raw.messages().filter((message) => typeof message["id"] === "number");
    expect(replies.map((message) => message["id"])).toEqual(Array.from({ length: READS }, (_, i) => i));
    const sizes = new Set(replies.map((message) => {
      const result = message["result"] as { chunks: Array<{ chunk: string }> };
      return result.chunks.reduce((sum, chunk) => sum + Buffer.from(chunk.chunk, "base64").byteLength, 0);
    }));
    expect([...sizes]).toEqual([LOG_BYTES]);
  }, 20_000);

  test(
    "another client's small process/read, fs/readFile and fs/readBlock do not wait behind the large replies of clients that do not read",
    async () => {
      await using server = await startServer({ runtime });
      await using dir = await tempDir();
      await writeFile(join(dir.path, "big.bin"), Buffer.alloc(8 * MIB, 0x61));
      await writeFile(join(dir.path, "small.txt"), "small\n");
      await using reader = await server.session();
      await reader.call("process/start", startParams("hello", ["echo", "hello"], dir.uri));
      await reader.untilClosed("hello");
      // Each client that does not read gets a slot among the server's large replies in its turn and
      // keeps it for up to a second after its reply is sent: the rest wait in line for several seconds.
      const stalled: StallingClient[] = [];
      try {
        for (let index = 0; index < STALLED_READERS; index++) {
          const client = await StallingClient.connect(server.url);
          stalled.push(client);
          client.pause();
          client.send("big", "fs/readFile", { path: `${dir.uri}/big.bin` });
        }
        while (await gauge(server, "requests_held") < STALLED_READERS / 2);
        const read = await reader.call("process/read", { processId: "hello" });
        const small = await reader.call("fs/readFile", { path: `${dir.uri}/small.txt` });
        await reader.call("fs/open", { handleId: "big", path: `${dir.uri}/big.bin` });
        const block = await reader.call("fs/readBlock", { handleId: "big", offset: 0, len: MIB });
        // Both answered while clients that asked before them still wait for a slot.
        const waiting = await gauge(server, "requests_held");
        expect({
          output: (read["chunks"] as Array<{ chunk: string }>).map((chunk) => chunk.chunk),
          small: small["dataBase64"],
          block: Buffer.from(String(block["chunk"]), "base64").equals(Buffer.alloc(MIB, 0x61)),
          waiting: waiting > 0,
        })
          .toEqual({
            output: [Buffer.from("hello\n").toString("base64")],
            small: Buffer.from("small\n").toString("base64"),
            block: true,
            waiting: true,
          });
      } finally {
        for (const client of stalled) client.resume();
        await Promise.all(stalled.map((client) => client[Symbol.asyncDispose]()));
      }
    },
    60_000,
  );

  test(
    "another client's small fs/readDirectory, fs/walk and process/list do not wait behind the large replies of clients that do not read",
    async () => {
      await using server = await startServer({ runtime });
      await using dir = await tempDir();
      await writeFile(join(dir.path, "big.bin"), Buffer.alloc(8 * MIB, 0x61));
      await mkdir(join(dir.path, "empty"));
      await mkdir(join(dir.path, "tree", "sub"), { recursive: true });
      await writeFile(join(dir.path, "tree", "sub", "leaf.txt"), "leaf\n");
      await using reader = await server.session();
      // A list of more than 64 processes took a slot as a large reply does, whatever its size.
      for (let index = 0; index <= LIST_WITHOUT_ROOM; index++) {
        await reader.call("process/start", startParams(`p${index}`, ["true"], dir.uri));
      }
      await Promise.all(
        Array.from({ length: LIST_WITHOUT_ROOM + 1 }, (_, index) => reader.untilClosed(`p${index}`)),
      );
      const stalled: StallingClient[] = [];
      try {
        // Every client is connected before any asks: a server busy with the first replies answers
        // the next handshakes late, and the line would drain as fast as it fills.
        for (let index = 0; index < STALLED_READERS; index++) {
          stalled.push(await StallingClient.connect(server.url));
        }
        for (const client of stalled) {
          client.pause();
          client.send("big", "fs/readFile", { path: `${dir.uri}/big.bin` });
        }
        while (await gauge(server, "requests_held") < STALLED_READERS / 2);
        const empty = await reader.call("fs/readDirectory", { path: `${dir.uri}/empty` });
        const walk = await reader.call("fs/walk", {
          path: `${dir.uri}/tree`,
          options: { maxDepth: 4, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false },
        });
        const list = await reader.call("process/list", {});
        // All answered while clients that asked before them still wait for a slot.
        const waiting = await gauge(server, "requests_held");
        expect({
          empty,
          walk: (walk["entries"] as Array<{ path: string }>).map((entry) => entry.path),
          listed: (list["processes"] as unknown[]).length,
          waiting: waiting > 0,
        }).toEqual({
          empty: { entries: [] },
          walk: [`${dir.uri}/tree/sub`, `${dir.uri}/tree/sub/leaf.txt`],
          listed: LIST_WITHOUT_ROOM + 1,
          waiting: true,
        });
      } finally {
        for (const client of stalled) client.resume();
        await Promise.all(stalled.map((client) => client[Symbol.asyncDispose]()));
      }
    },
    90_000,
  );
});
