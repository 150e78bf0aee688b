/**
 * Calls sent again after a lost connection (PROTOCOL.md §3.7) report their true outcome or
 * `outcomeUnknown`, never the answer a repeat gets to the first send's work: a relay swallows the
 * reply to a request the server carried out, then cuts the connection, and the client sends the
 * request again on the resumed session.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { readFile, stat } from "node:fs/promises";
import { ClientError, RemoteEnvironment } from "../../src/client/mod.ts";
import type { ProcessHandle } from "../../src/client/mod.ts";
import { RpcError } from "../../src/protocol/mod.ts";
import { startMessageRelay } from "../helpers/message_relay.ts";
import type { MessageRelay } from "../helpers/message_relay.ts";
import { rejectionOf } from "../helpers/rejection.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** Reads a handle's events to its end. */
async function untilClosed(handle: ProcessHandle): Promise<string[]> {
  const types: string[] = [];
  for await (const event of handle.events) types.push(event.type);
  return types;
}

/** Waits until the server has removed a closed process (its retention is over). */
async function untilRemoved(handle: ProcessHandle): Promise<void> {
  for (;;) {
    const error = await handle.read().then(() => null, (error: unknown) => error);
    if (error instanceof RpcError && error.kind === "UnknownProcess") return;
    if (error !== null) throw error;
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}

function expectOutcomeUnknown(error: unknown): void {
  expect(error).toBeInstanceOf(ClientError);
  expect(error).toMatchObject({ reason: "outcomeUnknown" });
}

describe.each(RUNTIMES)("a call sent again after a lost connection, server on %s", (runtime) => {
  let server: TestServer | null = null;
  let relay: MessageRelay | null = null;
  beforeAll(async () => {
    // Closed processes leave at once, so that a repeat can meet an id the first send knew.
    server = await startServer({ runtime, args: ["--process-retention", "0.05"] });
    relay = startMessageRelay(server.url);
  });
  afterAll(async () => {
    await relay?.[Symbol.asyncDispose]();
    await server?.[Symbol.asyncDispose]();
  });
  const world = (): MessageRelay => {
    if (relay === null) throw new Error("the relay has not started");
    return relay;
  };

  test("a terminate that killed the process is not reported as finding it not running", async () => {
    const relay = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(relay.url);
    await using proc = await env.exec.start({ argv: ["sleep", "30"], cwd: dir.path });
    const swallowed = relay.swallowReplyTo("process/terminate");
    const terminate = proc.terminate();
    await swallowed;
    expect(await untilClosed(proc)).toEqual(["exited", "closed"]);
    relay.cut();
    // The first terminate found it running (the server answered `running: true`).
    const outcome = await terminate.then((running) => running, (error: unknown) => error);
    if (outcome !== true) expectOutcomeUnknown(outcome);
  });

  test("a closeStdin that closed stdin is not reported as finding it closed", async () => {
    const relay = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(relay.url);
    await using proc = await env.exec.start({ argv: ["cat"], cwd: dir.path, pipeStdin: true });
    const swallowed = relay.swallowReplyTo("process/closeStdin");
    const close = proc.closeStdin();
    await swallowed;
    // cat read end of file: the close took effect.
    expect(await untilClosed(proc)).toEqual(["exited", "closed"]);
    relay.cut();
    const outcome = await close.then((status) => status, (error: unknown) => error);
    if (outcome !== "accepted") expectOutcomeUnknown(outcome);
  });

  test("a write that was accepted is not reported unknownProcess once the process has gone", async () => {
    const relay = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(relay.url);
    await using proc = await env.exec.start({
      argv: ["sh", "-c", "cat > got"],
      cwd: dir.path,
      pipeStdin: true,
    });
    const swallowed = relay.swallowReplyTo("process/write");
    const write = proc.write("once\n");
    await swallowed;
    expect(await proc.closeStdin()).toBe("accepted");
    expect(await untilClosed(proc)).toEqual(["exited", "closed"]);
    expect(await readFile(join(dir.path, "got"), "utf8")).toBe("once\n");
    await untilRemoved(proc);
    relay.cut();
    const outcome = await write.then((status) => status, (error: unknown) => error);
    if (outcome !== "accepted") expectOutcomeUnknown(outcome);
  });

  test("a resize that took effect is not reported as an unknown process once the process has gone", async () => {
    const relay = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(relay.url);
    await using proc = await env.exec.start({ argv: ["cat"], cwd: dir.path, tty: true });
    const swallowed = relay.swallowReplyTo("process/resize");
    const resize = proc.resize({ cols: 100, rows: 30 });
    await swallowed;
    await proc.terminate();
    expect((await untilClosed(proc)).slice(-2)).toEqual(["exited", "closed"]);
    await untilRemoved(proc);
    relay.cut();
    const outcome = await resize.then(() => "resized", (error: unknown) => error);
    if (outcome !== "resized") expectOutcomeUnknown(outcome);
  });

  test("a start whose process ran and was removed before the check is not started again", async () => {
    const relay = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(relay.url);
    const processId = crypto.randomUUID();
    const swallowed = relay.swallowReplyTo("process/start");
    const start = env.exec.start({ processId, argv: ["sh", "-c", "echo ran >> runs"], cwd: dir.path });
    await swallowed;
    // It ran, closed, and its retention ended: the server no longer knows its id.
    for (;;) {
      const error = await env.client.call("process/read", { processId }).then(() => null, (error) => error);
      if (error instanceof RpcError && error.kind === "UnknownProcess") break;
      if (error !== null) throw error;
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
    }
    relay.cut();
    expectOutcomeUnknown(await rejectionOf(start));
    expect(await readFile(join(dir.path, "runs"), "utf8")).toBe("ran\n");
  });

  test("a createDirectory without recursive that created the directory is not reported as finding it", async () => {
    const relay = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(relay.url);
    const path = join(dir.path, "made");
    const swallowed = relay.swallowReplyTo("fs/createDirectory");
    const create = env.fs.createDirectory({ path, recursive: false });
    await swallowed;
    relay.cut();
    const outcome = await create.then(() => "created", (error: unknown) => error);
    if (outcome !== "created") expectOutcomeUnknown(outcome);
    expect((await stat(path)).isDirectory()).toBe(true);
  });

  test("a createDirectory without recursive whose request was lost is sent again and creates it", async () => {
    const relay = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(relay.url);
    const path = join(dir.path, "made");
    const dropped = relay.dropRequestOf("fs/createDirectory");
    const create = env.fs.createDirectory({ path, recursive: false });
    await dropped;
    relay.cut();
    expect(await create).toEqual({});
    expect((await stat(path)).isDirectory()).toBe(true);
  });

  test("a remove without force that removed the file is not reported as not finding it", async () => {
    const relay = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(relay.url);
    const path = join(dir.path, "doomed");
    await env.fs.writeFile({ path, dataBase64: btoa("x") });
    const swallowed = relay.swallowReplyTo("fs/remove");
    const remove = env.fs.remove({ path, recursive: false, force: false });
    await swallowed;
    relay.cut();
    const outcome = await remove.then(() => "removed", (error: unknown) => error);
    if (outcome !== "removed") expectOutcomeUnknown(outcome);
    expect(await rejectionOf(stat(path))).toMatchObject({ code: "ENOENT" });
  });

  test("a remove without force whose request was lost is sent again and removes the file", async () => {
    const relay = world();
    await using dir = await tempDir();
    await using env = await RemoteEnvironment.connect(relay.url);
    const path = join(dir.path, "doomed");
    await env.fs.writeFile({ path, dataBase64: btoa("x") });
    const dropped = relay.dropRequestOf("fs/remove");
    const remove = env.fs.remove({ path, recursive: false, force: false });
    await dropped;
    relay.cut();
    expect(await remove).toEqual({});
    expect(await rejectionOf(stat(path))).toMatchObject({ code: "ENOENT" });
  });
});
