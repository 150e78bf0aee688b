/**
 * The client against stand-in servers that misbehave: ones that never answer, close at odd moments
 * or answer a resume with another session. The client must fail with its documented errors, in
 * bounded time, and leave no connection behind.
 */
import { describe, expect, test } from "bun:test";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { ClientError, ExecServerClient, RemoteEnvironment } from "../../src/client/mod.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import { realEnvironmentInfo, reply, standInServer, welcome } from "../helpers/stand_in_server.ts";
import type { StandInMessage } from "../helpers/stand_in_server.ts";
import { rejectionOf } from "../helpers/rejection.ts";

/**
 * A TCP relay to `target` that can freeze its connections: from then on it forwards nothing either
 * way and closes nothing, as a network path that died without a FIN or a reset.
 */
async function freezingRelay(target: string): Promise<{ url: string; freeze(): void } & AsyncDisposable> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let frozen = false;
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
    }
    client.on("data", (data: Buffer) => frozen || upstream.write(data));
    upstream.on("data", (data: Buffer) => frozen || client.write(data));
    client.on("close", () => frozen || upstream.destroy());
    upstream.on("close", () => frozen || client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the relay has no port");
  return {
    url: `ws://127.0.0.1:${address.port}`,
    freeze() {
      frozen = true;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("ExecServerClient against a misbehaving server", () => {
  const real = sharedServer("bun");
  const info = realEnvironmentInfo(real);

  test("connect fails with notConnected when the server never answers initialize", async () => {
    await using standIn = standInServer(() => {});
    const error = await rejectionOf(ExecServerClient.connect(standIn.url, { connectTimeoutMs: 200 }));
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ reason: "notConnected" });
    await standIn.allClosed();
  });

  test("connect's signal also abandons an initialize that is not answered", async () => {
    const initializing = Promise.withResolvers<void>();
    await using standIn = standInServer(() => initializing.resolve());
    const controller = new AbortController();
    const reason = new Error("gave up");
    const connecting = ExecServerClient.connect(standIn.url, { signal: controller.signal });
    await initializing.promise;
    controller.abort(reason);
    expect(await rejectionOf(connecting)).toBe(reason);
    await standIn.allClosed();
  });

  test("connect fails with ClientError notConnected when the server closes before answering initialize", async () => {
    await using standIn = standInServer((ws) => ws.close(1013, "try again later"));
    const error = await rejectionOf(ExecServerClient.connect(standIn.url));
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ reason: "notConnected" });
    expect((error as Error).message).toContain("1013");
  });

  test("a reconnect whose initialize is never answered ends in sessionLost within reconnectTimeoutMs", async () => {
    let lookups = 0;
    await using standIn = standInServer((ws, message, connection) => {
      if (connection > 1) return;
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      if (message.method === "fs/getMetadata") {
        lookups++;
        ws.close(1011, "gone");
      }
    });
    await using client = await ExecServerClient.connect(standIn.url, { reconnectTimeoutMs: 500 });
    const error = await rejectionOf(client.call("fs/getMetadata", { path: "/nowhere" }));
    expect(error).toMatchObject({ reason: "sessionLost" });
    expect(lookups).toBe(1);
    await standIn.allClosed();
  });

  test("a resume answered with another session id ends the session; the call is not sent to it", async () => {
    let lookups = 0;
    await using standIn = standInServer((ws, message, connection) => {
      if (message.method === "initialize") welcome(ws, message, `s-${connection}`, info());
      if (message.method === "fs/getMetadata") {
        lookups++;
        if (connection === 1) {
          ws.close(1011, "gone");
          return;
        }
        reply(ws, message, {
          isDirectory: false,
          isFile: true,
          isSymlink: false,
          size: 0,
          createdAtMs: 0,
          modifiedAtMs: 0,
        });
      }
    });
    await using client = await ExecServerClient.connect(standIn.url);
    const error = await rejectionOf(client.call("fs/getMetadata", { path: "/nowhere" }));
    expect(error).toMatchObject({ reason: "sessionLost" });
    expect((error as Error).message).toContain("s-2");
    expect(lookups).toBe(1);
    expect(client.sessionId).toBe("s-1");
  });

  test("close() during a reconnect closes the connection attempt in progress", async () => {
    const resuming = Promise.withResolvers<void>();
    await using standIn = standInServer((ws, message, connection) => {
      if (message.method !== "initialize") return;
      if (connection === 1) {
        welcome(ws, message, "s-1", info());
        ws.close(1011, "gone");
      } else {
        // Never answered: the resume hangs until the client gives up on it.
        resuming.resolve();
      }
    });
    const client = await ExecServerClient.connect(standIn.url, { connectTimeoutMs: 120_000 });
    await resuming.promise;
    await client.close();
    await standIn.allClosed();
  });
  test("a start whose check is lost each time is not checked or sent again past three connections", async () => {
    const counts = { start: 0, read: 0 };
    await using standIn = standInServer((ws, message) => {
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      if (message.method === "process/start") counts.start++;
      if (message.method === "process/read") counts.read++;
      // Both the start and the read of its id end the connection.
      if (message.method.startsWith("process/")) ws.close(1011, "gone");
    });
    await using env = await RemoteEnvironment.connect(standIn.url);
    const error = await rejectionOf(env.exec.start({ argv: ["true"], cwd: "/" }));
    expect(error).toMatchObject({ reason: "connectionClosed" });
    expect(counts).toEqual({ start: 1, read: 2 });
  });
  test("a start that the server says is still starting is checked again after a pause, not at once", async () => {
    let reads = 0;
    await using standIn = standInServer((ws, message, connection) => {
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      // The start's reply is lost; every check of it is answered at once that it is starting.
      if (message.method === "process/start" && connection === 1) ws.close(1011, "gone");
      if (message.method === "process/read") {
        reads++;
        const error = { code: -32600, message: "starting", data: { kind: "ProcessStarting" } };
        ws.send(JSON.stringify({ id: message.id, error }));
      }
    });
    await using env = await RemoteEnvironment.connect(standIn.url);
    const error = await rejectionOf(env.exec.start({ argv: ["true"], cwd: "/" }, { timeoutMs: 500 }));
    expect(error).toMatchObject({ reason: "timeout" });
    // Without a pause between checks it is thousands in those 500 ms.
    expect(reads).toBeLessThan(20);
  });
  test("an fs/copy sent again after a lost reply and answered AlreadyExists has an unknown outcome", async () => {
    // What a server answers when the first copy of a symlink took place and its reply was lost.
    let copies = 0;
    await using standIn = standInServer((ws, message, connection) => {
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      if (message.method !== "fs/copy") return;
      copies++;
      if (connection === 1) {
        ws.close(1011, "gone");
        return;
      }
      const error = {
        code: -32603,
        message: "File exists (os error 17)",
        data: { kind: "AlreadyExists", errno: "EEXIST" },
      };
      ws.send(JSON.stringify({ id: message.id, error }));
    });
    await using client = await ExecServerClient.connect(standIn.url);
    const params = { sourcePath: "/nowhere/link", destinationPath: "/nowhere/copy", recursive: false };
    const error = await rejectionOf(client.call("fs/copy", params));
    expect(error).toMatchObject({ reason: "outcomeUnknown" });
    expect(copies).toBe(2);
  });
  test("a server that ends every connection right after its resume is retried with backoff until the deadline", async () => {
    await using standIn = standInServer((ws, message) => {
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      if (message.method === "initialized") ws.close(1011, "gone again");
    });
    const client = await ExecServerClient.connect(standIn.url, { reconnectTimeoutMs: 1_000 });
    const lost = Promise.withResolvers<unknown>();
    client.subscribe("p-1", {
      notification: () => {},
      resumed: () => {},
      lost: (error) => lost.resolve(error),
    });
    expect(await lost.promise).toMatchObject({ reason: "sessionLost" });
    // Backoff from 25 ms doubling to 1 s within one second: a handful. Without it, thousands a
    // second for as long as the client lives.
    expect(standIn.connections).toBeLessThan(30);
    await client.close();
  });
  test("a connection on which the server falls silent is abandoned and the session resumed on another", async () => {
    const metadata = {
      isDirectory: false,
      isFile: true,
      isSymlink: false,
      size: 0,
      createdAtMs: 0,
      modifiedAtMs: 0,
    };
    let probes = 0;
    await using standIn = standInServer((ws, message, connection) => {
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      if (message.method === "environment/info") probes++;
      // The first connection stays open but answers nothing after its handshake, as a peer whose
      // host or network path is gone; the second answers.
      if (message.method === "fs/getMetadata" && connection > 1) reply(ws, message, metadata);
    });
    await using client = await ExecServerClient.connect(standIn.url, { livenessMs: 100 });
    expect(await client.call("fs/getMetadata", { path: "/nowhere" })).toEqual(metadata);
    expect(standIn.connections).toBe(2);
    expect(probes).toBeGreaterThanOrEqual(1);
  });
  test("a client held up past its liveness window keeps a connection whose server answered in time", async () => {
    const metadata = {
      isDirectory: false,
      isFile: true,
      isSymlink: false,
      size: 0,
      createdAtMs: 0,
      modifiedAtMs: 0,
    };
    let held: { ws: Parameters<Parameters<typeof standInServer>[0]>[0]; message: StandInMessage } | null =
      null;
    let probes = 0;
    await using standIn = standInServer((ws, message) => {
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      // The call waits for three questions, each answered at once.
      if (message.method === "fs/getMetadata") held = { ws, message };
      if (message.method !== "environment/info") return;
      reply(ws, message, info());
      probes++;
      if (probes === 3 && held !== null) reply(held.ws, held.message, metadata);
      // After the first answer is sent, the client's process runs nothing for three liveness
      // windows, as on a machine whose cores are busy: the answer waits unread in its socket.
      if (probes === 1) {
        const until = performance.now() + 300;
        while (performance.now() < until) {
          // Held up.
        }
      }
    });
    await using client = await ExecServerClient.connect(standIn.url, { livenessMs: 100 });
    expect(await client.call("fs/getMetadata", { path: "/nowhere" })).toEqual(metadata);
    expect({ connections: standIn.connections, probes }).toEqual({ connections: 1, probes: 3 });
  });
  test("close() does not wait for ever for a server that no longer answers", async () => {
    await using relay = await freezingRelay(real().url);
    // Liveness would end the wait too; an hour keeps it out of this test.
    const client = await ExecServerClient.connect(relay.url, { livenessMs: 3_600_000 });
    relay.freeze();
    await client.close();
  });
  test("a resume answered 'unknown session id' without a kind ends the session at once", async () => {
    let resumes = 0;
    await using standIn = standInServer((ws, message, connection) => {
      if (message.method !== "initialize") return;
      if (connection === 1) {
        welcome(ws, message, "s-1", info());
        ws.close(1011, "gone");
        return;
      }
      resumes++;
      // As a Codex server answers: the code and message of §3.7, no data.
      ws.send(JSON.stringify({ id: message.id, error: { code: -32600, message: "unknown session id s-1" } }));
    });
    const client = await ExecServerClient.connect(standIn.url);
    const lost = Promise.withResolvers<unknown>();
    client.subscribe("p-1", {
      notification: () => {},
      resumed: () => {},
      lost: (error) => lost.resolve(error),
    });
    expect(await lost.promise).toMatchObject({ reason: "sessionLost", message: "session s-1 has expired" });
    expect(resumes).toBe(1);
  });
  test("a start whose reply was lost is sent again when a server without kinds says its id is unknown", async () => {
    let starts = 0;
    await using standIn = standInServer((ws, message, connection) => {
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      if (message.method === "process/start") {
        starts++;
        if (connection === 1) ws.close(1011, "gone");
        else reply(ws, message, { processId: message.params?.["processId"], sandboxType: "none" });
      }
      if (message.method === "process/read") {
        const processId = String(message.params?.["processId"]);
        // As a Codex server answers: the code and message of §5.6, no data.
        ws.send(
          JSON.stringify({
            id: message.id,
            error: { code: -32600, message: `unknown process id ${processId}` },
          }),
        );
      }
    });
    await using env = await RemoteEnvironment.connect(standIn.url);
    const handle = await env.exec.start({ argv: ["true"], cwd: "/" });
    expect(handle.sandboxType).toBe("none");
    expect(starts).toBe(2);
    handle.release();
  });
  test("a start its caller abandons does not leave its process running", async () => {
    await using env = await RemoteEnvironment.connect(real().url);
    const processId = crypto.randomUUID();
    const controller = new AbortController();
    const starting = env.exec.start({ processId, argv: ["sleep", "1000"], cwd: "/" }, {
      signal: controller.signal,
    });
    // Aborted once sent, before any answer can arrive.
    queueMicrotask(() => controller.abort(new Error("abandoned")));
    expect(await rejectionOf(starting)).toMatchObject({ message: "abandoned" });
    for (;;) {
      const read = await env.client.call("process/read", { processId, waitMs: 5_000 });
      if (read.closed) {
        expect(read.exitCode).toBe(137);
        break;
      }
    }
  });
  test("a server that answers the liveness question keeps its connection through a long poll", async () => {
    const QUESTIONS = 10;
    let poll: { ws: Parameters<Parameters<typeof standInServer>[0]>[0]; message: StandInMessage } | null =
      null;
    let questions = 0;
    await using standIn = standInServer((ws, message) => {
      if (message.method === "initialize") welcome(ws, message, "s-1", info());
      // The poll is answered once the server has answered QUESTIONS liveness questions, each at
      // once, often within the question's own millisecond.
      if (message.method === "process/read") poll = { ws, message };
      if (message.method !== "environment/info") return;
      reply(ws, message, info());
      if (++questions === QUESTIONS && poll !== null) {
        reply(poll.ws, poll.message, {
          chunks: [],
          nextSeq: 1,
          exited: false,
          exitCode: null,
          closed: false,
          failure: null,
          sandboxDenied: false,
          droppedBytes: 0,
        });
      }
    });
    await using client = await ExecServerClient.connect(standIn.url, { livenessMs: 100 });
    const read = await client.call("process/read", { processId: "p-1", afterSeq: 0, waitMs: 3_600_000 });
    expect({ chunks: read.chunks, questions, connections: standIn.connections }).toEqual({
      chunks: [],
      questions: QUESTIONS,
      connections: 1,
    });
  });
});
