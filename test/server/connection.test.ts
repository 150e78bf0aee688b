import { describe, expect, test } from "bun:test";
import type { ExitStatus, PipeChild, Runtime } from "../../src/runtime/mod.ts";
import { InboundCall } from "../../src/rpc/rpc_peer.ts";
import { Connection } from "../../src/server/connection.ts";
import { LARGE_REPLY_SLOTS } from "../../src/server/reply_gate.ts";
import { BACKLOG_LOW_BYTES } from "../../src/server/session.ts";
import type { Transport } from "../../src/server/connection.ts";
import type { ServerContext } from "../../src/server/server_context.ts";
import { testContext, testRegistry } from "../helpers/server_context.ts";

/** A transport that records what the connection sends and whether it closed the transport. */
class FakeTransport implements Transport {
  readonly sent: Record<string, unknown>[] = [];
  closedWith: { code: number; reason: string } | null = null;
  readonly description = "websocket 127.0.0.1:1";
  #watchers: Array<() => void> = [];

  send(text: string): void {
    this.sent.push(JSON.parse(text) as Record<string, unknown>);
    const watchers = this.#watchers;
    this.#watchers = [];
    for (const wake of watchers) wake();
  }

  /** Unsent bytes as the case sets them. */
  unsent = 0;

  backlog(): number {
    return this.unsent;
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }

  terminate(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }

  async replyTo(id: number): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.sent.find((message) => message["id"] === id);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => this.#watchers.push(resolve));
    }
  }
}

/** A runtime whose children never print and never exit, so a long poll stays pending. */
function idleRuntime(): Runtime {
  const never = new Promise<ExitStatus>(() => {});
  const child: PipeChild = {
    pid: 2_000_000_000,
    stdout: new ReadableStream<Uint8Array>(),
    stderr: new ReadableStream<Uint8Array>(),
    stdin: null,
    exited: never,
  };
  const partial: Partial<Runtime> = {
    name: "bun",
    spawn: () => Promise.resolve(child),
    kill: () => {},
  };
  // The connection under test reaches only spawn and kill of the runtime.
  return partial as Runtime;
}

/**
 * An fs side on which every file is larger than a small file: an `fs/readFile` waits for its
 * slot among the server's large replies before it reads on past them; the rest of the read is
 * recorded in `started` and finished by the next of `finishers`.
 */
function largeFiles(started: string[], finishers: Array<() => void>) {
  return (sessionId: string): ReturnType<ServerContext["openFsConnection"]> => ({
    run: (method) => {
      if (method === "fs/readBlock") return Promise.resolve({ chunk: "", eof: true }) as never;
      return Promise.reject(new Error(`no ${method} here`));
    },
    readFile: async (_params, _signal, large) => {
      await large?.wait();
      started.push(`${sessionId}:fs/readFile`);
      const { promise, resolve } = Promise.withResolvers<{ dataBase64: string }>();
      finishers.push(() => resolve({ dataBase64: "" }));
      return await promise;
    },
    readDirectorySmall: () => Promise.reject(new Error("no listings here")),
    walkSmall: () => Promise.reject(new Error("no listings here")),
    readFilePayload: () => Promise.reject(new Error("no binary frames here")),
    close: () => Promise.resolve(),
  });
}

/** Resolves after the timers due now have run (a reply's slot is looked at in the next turn). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function context(): ServerContext {
  return testContext(testRegistry(idleRuntime()));
}

/** A connection with one large reply's release asked for, and a count of the releases it made. */
function largeReply(options: { releaseAfterSending?: boolean } = {}) {
  let releases = 0;
  const shared = testContext(testRegistry(idleRuntime()), {
    releaseMemory: () => void releases++,
    ...options,
  });
  const transport = new FakeTransport();
  const connection = new Connection(transport, shared);
  const call = new InboundCall();
  connection.releaseWhenSent(call);
  return { released: () => releases, transport, connection, call };
}

describe("Connection memory release", () => {
  test("a connection whose output gate closes on its backlog asks for a release once the client reads nothing", async () => {
    let releases = 0;
    const released = Promise.withResolvers<void>();
    const shared = testContext(testRegistry(idleRuntime()), {
      releaseMemory: () => {
        releases++;
        released.resolve();
      },
    });
    const transport = new FakeTransport();
    transport.unsent = BACKLOG_LOW_BYTES * 16;
    new Connection(transport, shared).congested();
    // A client that is still reading reopens the gate before then: no collection in its stream.
    expect(releases).toBe(0);
    await released.promise;
    expect(releases).toBe(1);
  });

  test("the release after a large reply waits until that reply has left the connection", async () => {
    const { released, transport, connection, call } = largeReply();
    transport.unsent = BACKLOG_LOW_BYTES * 64;
    call.replied();
    await nextTurn();
    expect(released()).toBe(0);
    transport.unsent = BACKLOG_LOW_BYTES * 2;
    connection.drained();
    expect(released()).toBe(0);
    transport.unsent = 0;
    connection.drained();
    expect(released()).toBe(1);
    connection.drained();
    expect(released()).toBe(1);
  });

  test("the release after a large reply that left at once runs in the next turn", async () => {
    const { released, call } = largeReply();
    expect(released()).toBe(0);
    call.replied();
    expect(released()).toBe(0);
    await nextTurn();
    expect(released()).toBe(1);
  });

  test("where the runtime's release is light, it runs right after a large reply, sent or not", () => {
    const { released, transport, call } = largeReply({ releaseAfterSending: false });
    transport.unsent = BACKLOG_LOW_BYTES * 64;
    expect(released()).toBe(0);
    call.replied();
    expect(released()).toBe(1);
  });

  test("the release a large reply holds runs when the connection closes unsent", async () => {
    const { released, transport, connection, call } = largeReply();
    transport.unsent = BACKLOG_LOW_BYTES * 64;
    call.replied();
    await nextTurn();
    expect(released()).toBe(0);
    connection.closed();
    expect(released()).toBeGreaterThanOrEqual(1);
  });

  test("a connection counts each message in and out towards the quiet release", async () => {
    const counted: number[] = [];
    const shared = testContext(testRegistry(idleRuntime()), {
      traffic: { add: (units) => void counted.push(units) },
    });
    const transport = new FakeTransport();
    const connection = new Connection(transport, shared);
    const request = JSON.stringify({ id: 1, method: "initialize", params: { clientName: "c" } });
    connection.receive(request);
    expect(counted).toEqual([request.length]);
    const reply = await transport.replyTo(1);
    expect(counted[1]).toBe(JSON.stringify(reply).length);
    const output = JSON.stringify({ processId: "p", seq: 1, stream: "stdout", chunk: "eHh4" });
    connection.notify("process/output", output);
    expect(counted).toHaveLength(3);
    expect(counted[2]).toBe(JSON.stringify({ method: "process/output", params: JSON.parse(output) }).length);
  });
});

describe("Connection eviction", () => {
  test("Connection ends a pending long poll with SessionResumed when its session is resumed elsewhere", async () => {
    const shared = context();
    const oldTransport = new FakeTransport();
    const old = new Connection(oldTransport, shared);
    old.receive(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "old" } }));
    old.receive(JSON.stringify({ method: "initialized" }));
    old.receive(JSON.stringify({
      id: 2,
      method: "process/start",
      params: { processId: "p", argv: ["sh"], cwd: "/", env: {}, tty: false },
    }));
    const sessionId = String(
      ((await oldTransport.replyTo(1))["result"] as Record<string, unknown>)["sessionId"],
    );
    expect((await oldTransport.replyTo(2))["result"]).toEqual({ processId: "p", sandboxType: "none" });
    old.receive(
      JSON.stringify({ id: 3, method: "process/read", params: { processId: "p", waitMs: 600_000 } }),
    );
    // The window of §3.7: the transport is lost (the session detached) while the handler still runs.
    const session = shared.registry.all()[0];
    if (session === undefined) throw new Error("no session");
    shared.registry.detach(session, old);

    const newTransport = new FakeTransport();
    const successor = new Connection(newTransport, shared);
    successor.receive(
      JSON.stringify({
        id: 1,
        method: "initialize",
        params: { clientName: "new", resumeSessionId: sessionId },
      }),
    );
    expect(((await newTransport.replyTo(1))["result"] as Record<string, unknown>)["sessionId"]).toBe(
      sessionId,
    );

    expect(await oldTransport.replyTo(3)).toEqual({
      id: 3,
      error: {
        code: -32600,
        message: "session has been resumed by another connection",
        data: { kind: "SessionResumed" },
      },
    });
    expect(oldTransport.closedWith).toEqual({
      code: 1008,
      reason: "session has been resumed by another connection",
    });
  });

  test("Connection refuses later requests of an evicted connection with SessionResumed", async () => {
    const shared = context();
    const oldTransport = new FakeTransport();
    const old = new Connection(oldTransport, shared);
    old.receive(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "old" } }));
    old.receive(JSON.stringify({ method: "initialized" }));
    const sessionId = String(
      ((await oldTransport.replyTo(1))["result"] as Record<string, unknown>)["sessionId"],
    );
    const session = shared.registry.all()[0];
    if (session === undefined) throw new Error("no session");
    shared.registry.detach(session, old);
    const newTransport = new FakeTransport();
    new Connection(newTransport, shared).receive(
      JSON.stringify({
        id: 1,
        method: "initialize",
        params: { clientName: "new", resumeSessionId: sessionId },
      }),
    );
    await newTransport.replyTo(1);
    old.receive(JSON.stringify({ id: 2, method: "process/list", params: {} }));
    expect(await oldTransport.replyTo(2)).toEqual({
      id: 2,
      error: {
        code: -32600,
        message: "session has been resumed by another connection",
        data: { kind: "SessionResumed" },
      },
    });
  });
});

describe("Connection large replies across the server", () => {
  test("at most LARGE_REPLY_SLOTS large replies are produced at once across connections, in order", async () => {
    const started: string[] = [];
    const finishers: Array<() => void> = [];
    const shared = testContext(testRegistry(idleRuntime()), {
      openFsConnection: largeFiles(started, finishers),
    });
    const clients = Array.from({ length: LARGE_REPLY_SLOTS + 2 }, () => new FakeTransport());
    for (const transport of clients) {
      const connection = new Connection(transport, shared);
      connection.receive(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "c" } }));
      connection.receive(JSON.stringify({ method: "initialized" }));
      await transport.replyTo(1);
      connection.receive(JSON.stringify({ id: 2, method: "fs/readFile", params: { path: "/nowhere" } }));
    }
    // Every request has reached the server's gate once a later request of the first client is answered.
    await Bun.sleep(0);
    expect(started).toHaveLength(LARGE_REPLY_SLOTS);
    finishers.shift()?.();
    await clients[0]!.replyTo(2);
    await nextTurn();
    expect(started).toHaveLength(LARGE_REPLY_SLOTS + 1);
    for (const finish of finishers.splice(0)) finish();
    await Promise.all(clients.slice(1, LARGE_REPLY_SLOTS + 1).map((transport) => transport.replyTo(2)));
    await nextTurn();
    for (const finish of finishers.splice(0)) finish();
    await clients.at(-1)!.replyTo(2);
    expect(started).toHaveLength(LARGE_REPLY_SLOTS + 2);
  });

  test("a large reply holds its slot until it has left the connection, or for a second at most", async () => {
    const started: string[] = [];
    const finishers: Array<() => void> = [];
    const shared = testContext(testRegistry(idleRuntime()), {
      openFsConnection: largeFiles(started, finishers),
    });
    const clients = Array.from({ length: LARGE_REPLY_SLOTS + 2 }, () => new FakeTransport());
    const connections: Connection[] = [];
    for (const transport of clients) {
      const connection = new Connection(transport, shared);
      connections.push(connection);
      connection.receive(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "c" } }));
      connection.receive(JSON.stringify({ method: "initialized" }));
      await transport.replyTo(1);
      connection.receive(JSON.stringify({ id: 2, method: "fs/readFile", params: { path: "/nowhere" } }));
    }
    await Bun.sleep(0);
    expect(started).toHaveLength(LARGE_REPLY_SLOTS);
    // The first reply is sent but stays unsent in the runtime: its slot is not given back.
    clients[0]!.unsent = BACKLOG_LOW_BYTES;
    finishers.shift()?.();
    await clients[0]!.replyTo(2);
    await nextTurn();
    expect(started).toHaveLength(LARGE_REPLY_SLOTS);
    // Once it has left, the next request takes the slot.
    clients[0]!.unsent = 0;
    connections[0]!.drained();
    await Bun.sleep(0);
    expect(started).toHaveLength(LARGE_REPLY_SLOTS + 1);
    // A client that does not read keeps the slot for a second at most.
    clients[1]!.unsent = BACKLOG_LOW_BYTES;
    finishers.shift()?.();
    await clients[1]!.replyTo(2);
    while (started.length < LARGE_REPLY_SLOTS + 2) await Bun.sleep(10);
    for (const finish of finishers.splice(0)) finish();
  });

  test("a small process/read does not wait for the server's large-reply slots", async () => {
    const finishers: Array<() => void> = [];
    const shared = testContext(testRegistry(idleRuntime()), {
      openFsConnection: largeFiles([], finishers),
    });
    // Other clients' large replies hold every slot (a client that does not read holds one for a second
    // after its reply is sent; these are still being made).
    for (let index = 0; index < LARGE_REPLY_SLOTS + 1; index++) {
      const transport = new FakeTransport();
      const connection = new Connection(transport, shared);
      connection.receive(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "c" } }));
      connection.receive(JSON.stringify({ method: "initialized" }));
      await transport.replyTo(1);
      connection.receive(JSON.stringify({ id: 2, method: "fs/readFile", params: { path: "/nowhere" } }));
    }
    const transport = new FakeTransport();
    const reader = new Connection(transport, shared);
    reader.receive(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "reader" } }));
    reader.receive(JSON.stringify({ method: "initialized" }));
    reader.receive(JSON.stringify({
      id: 2,
      method: "process/start",
      params: { processId: "p", argv: ["sh"], cwd: "/", env: {}, tty: false },
    }));
    await transport.replyTo(2);
    reader.receive(JSON.stringify({ id: 3, method: "process/read", params: { processId: "p" } }));
    const read = await transport.replyTo(3);
    for (const finish of finishers.splice(0)) finish();
    expect(read["result"]).toMatchObject({ chunks: [], nextSeq: 1, exited: false });
  });

  test("an fs/readBlock (1 MiB at most) does not wait for the server's large-reply slots", async () => {
    const finishers: Array<() => void> = [];
    const shared = testContext(testRegistry(idleRuntime()), {
      openFsConnection: largeFiles([], finishers),
    });
    const transports = Array.from({ length: LARGE_REPLY_SLOTS + 2 }, () => new FakeTransport());
    const connections = transports.map((transport) => new Connection(transport, shared));
    for (const [index, connection] of connections.entries()) {
      connection.receive(JSON.stringify({ id: 1, method: "initialize", params: { clientName: "c" } }));
      connection.receive(JSON.stringify({ method: "initialized" }));
      await transports[index]!.replyTo(1);
    }
    // Other clients' large replies hold every slot, and one more waits.
    for (const connection of connections.slice(1)) {
      connection.receive(JSON.stringify({ id: 2, method: "fs/readFile", params: { path: "/nowhere" } }));
    }
    connections[0]!.receive(JSON.stringify({
      id: 2,
      method: "fs/readBlock",
      params: { handleId: "h", offset: 0, len: 1_048_576 },
    }));
    const block = await transports[0]!.replyTo(2);
    for (const finish of finishers.splice(0)) finish();
    expect(block["result"]).toEqual({ chunk: "", eof: true });
  });
});
