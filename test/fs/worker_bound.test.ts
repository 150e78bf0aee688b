/**
 * A session's sandbox workers are bounded: every sandbox policy has its own worker, and a client
 * that gives each request a fresh root would otherwise keep one process (40–50 MiB) per request
 * until its session ends. The workers here run the fs worker fixture without confinement: what
 * is tested is which processes `FsService` keeps, not the sandbox.
 */
import { afterAll, expect, test } from "bun:test";
import { resolve } from "node:path";
import {
  FsService,
  MAX_PINNED_WORKERS_PER_SESSION,
  MAX_RUNNING_WORKERS_PER_SESSION,
} from "../../src/fs/mod.ts";
import type { FsConnection } from "../../src/fs/mod.ts";
import { detectRuntime } from "../../src/runtime/mod.ts";
import { detectHostFeatures } from "../../src/sandbox/mod.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { b64, tempDir } from "./fs_test_helpers.ts";
import type { TempDir } from "./fs_test_helpers.ts";

const REPO = resolve(import.meta.dir, "../..");
const WORKER_FIXTURE = `${REPO}/test/fixtures/fs_worker_fixture.ts`;
const SELF_FIXTURE = `${REPO}/test/fixtures/fs_sandbox_self_fixture.ts`;
const SESSION = "session";

const runtime = await detectRuntime();
const features = await detectHostFeatures(runtime, {
  command: [process.execPath, SELF_FIXTURE, "sandbox-exec", "--probe"],
});
const services: FsService[] = [];
afterAll(async () => {
  await Promise.all(services.map((service) => service.close()));
});

function newService(dir: TempDir, maxRunningWorkers?: number): FsService {
  const service = new FsService(runtime, {
    ...(maxRunningWorkers === undefined ? {} : { maxRunningWorkers }),
    maxReadFileBytes: 1 << 20,
    serverCwd: dir.path,
    serverEnv: runtime.env(),
    hostFeatures: features,
    workerLaunch: () => ({
      program: process.execPath,
      args: [WORKER_FIXTURE],
      env: runtime.env(),
      cwd: REPO,
    }),
  });
  services.push(service);
  return service;
}

/** A policy of its own: `root`, writable. */
function policyOf(root: string): Record<string, unknown> {
  return managedSandbox({ write: [root] });
}

async function metadata(connection: FsConnection, root: string): Promise<unknown> {
  const signal = new AbortController().signal;
  return await connection.call("fs/getMetadata", { path: root, sandbox: policyOf(root) }, signal);
}

test("a session keeps a bounded number of workers running, and an ended one starts again", async () => {
  await using dir = await tempDir();
  const service = newService(dir);
  const connection = service.openConnection(SESSION);
  const roots = Array.from(
    { length: MAX_RUNNING_WORKERS_PER_SESSION + 1 },
    (_, index) => dir.join(`r${index}`),
  );
  for (const root of roots) await Bun.write(`${root}/.keep`, "");
  for (const root of roots) expect(await metadata(connection, root)).toMatchObject({ isDirectory: true });
  expect((await service.workerPids(SESSION)).size).toBe(MAX_RUNNING_WORKERS_PER_SESSION);
  // The first root's worker ended as the least recently used; it starts again on its next request.
  expect(await metadata(connection, roots[0] ?? "")).toMatchObject({ isDirectory: true });
  expect((await service.workerPids(SESSION)).size).toBe(MAX_RUNNING_WORKERS_PER_SESSION);
  await connection.close();
});

test("a worker with an open handle or a request in flight keeps running", async () => {
  await using dir = await tempDir();
  const service = newService(dir);
  const connection = service.openConnection(SESSION);
  const signal = new AbortController().signal;
  const held = dir.join("held");
  const busy = dir.join("busy");
  await Bun.write(`${held}/file`, "still readable");
  await Bun.write(`${busy}/.keep`, "");
  await connection.call("fs/open", { handleId: "h", path: `${held}/file`, sandbox: policyOf(held) }, signal);
  // The fixture never answers a request that mentions __stall__: it stays in flight.
  const stalled = new AbortController();
  const inFlight = connection.call(
    "fs/getMetadata",
    { path: `${busy}/__stall__`, sandbox: policyOf(busy) },
    stalled.signal,
  ).catch(() => "withdrawn");
  // Both workers run once the stalled request has started its own.
  let before = await service.workerPids(SESSION);
  while (before.size < 2) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    before = await service.workerPids(SESSION);
  }
  // One more than the bound in all: the oldest idle worker ends; the two busy ones are older still.
  const others = Array.from(
    { length: MAX_RUNNING_WORKERS_PER_SESSION - 1 },
    (_, index) => dir.join(`o${index}`),
  );
  for (const root of others) await Bun.write(`${root}/.keep`, "");
  for (const root of others) await metadata(connection, root);
  const after = await service.workerPids(SESSION);
  const kept = [...before].filter(([key, pid]) => after.get(key) === pid).length;
  expect(kept).toBe(2);
  expect(after.size).toBe(MAX_RUNNING_WORKERS_PER_SESSION);
  const block = await connection.call("fs/readBlock", { handleId: "h", offset: 0, len: 64 }, signal);
  expect(block).toEqual({ chunk: b64("still readable"), eof: true });
  stalled.abort();
  expect(await inFlight).toBe("withdrawn");
  await connection.close();
});

test("requests for more policies than the bound, all at once, never keep more workers running", async () => {
  await using dir = await tempDir();
  const service = newService(dir);
  const connection = service.openConnection(SESSION);
  const roots = Array.from(
    { length: 3 * MAX_RUNNING_WORKERS_PER_SESSION },
    (_, index) => dir.join(`p${index}`),
  );
  for (const root of roots) await Bun.write(`${root}/.keep`, "");
  const answers = await Promise.all(roots.map((root) => metadata(connection, root)));
  for (const answer of answers) expect(answer).toMatchObject({ isDirectory: true });
  expect((await service.workerPids(SESSION)).size).toBeLessThanOrEqual(MAX_RUNNING_WORKERS_PER_SESSION);
  await connection.close();
});

test("workers with open handles take at most 6 of a session's 8, the rest serve other policies", async () => {
  await using dir = await tempDir();
  const service = newService(dir);
  const connection = service.openConnection(SESSION);
  const signal = new AbortController().signal;
  const roots = Array.from({ length: MAX_RUNNING_WORKERS_PER_SESSION }, (_, index) => dir.join(`h${index}`));
  for (const root of roots) await Bun.write(`${root}/file`, "held");
  // All at once: an open in flight counts as a handle, so none passes the share meanwhile.
  const opens = await Promise.allSettled(
    roots.map((root, index) =>
      connection.call(
        "fs/open",
        { handleId: `h${index}`, path: `${root}/file`, sandbox: policyOf(root) },
        signal,
      )
    ),
  );
  expect(opens.filter((open) => open.status === "fulfilled")).toHaveLength(MAX_PINNED_WORKERS_PER_SESSION);
  for (const open of opens) {
    if (open.status === "rejected") {
      expect(open.reason).toMatchObject({
        code: -32001,
        message: "sandbox worker limit reached: at most 6 of a session's 8 workers hold open file handles",
      });
    }
  }
  // Policies past the share are served in turn, however many.
  for (const index of [0, 1, 2]) {
    const extra = dir.join(`extra${index}`);
    await Bun.write(`${extra}/.keep`, "");
    expect(await metadata(connection, extra)).toMatchObject({ isDirectory: true });
  }
  expect((await service.workerPids(SESSION)).size).toBeLessThanOrEqual(MAX_RUNNING_WORKERS_PER_SESSION);
  // Closing a handle makes room for another worker's.
  const held = opens.findIndex((open) => open.status === "fulfilled");
  const refused = opens.findIndex((open) => open.status === "rejected");
  await connection.call("fs/close", { handleId: `h${held}` }, signal);
  expect(
    await connection.call(
      "fs/open",
      { handleId: `h${refused}`, path: `${roots[refused]}/file`, sandbox: policyOf(roots[refused] ?? "") },
      signal,
    ),
  ).toEqual({ handleId: `h${refused}` });
  await connection.close();
});

test("a request that finds the kept workers busy waits for one rather than being refused", async () => {
  await using dir = await tempDir();
  const service = newService(dir);
  const connection = service.openConnection(SESSION);
  const signal = new AbortController().signal;
  const roots = Array.from({ length: MAX_PINNED_WORKERS_PER_SESSION }, (_, index) => dir.join(`h${index}`));
  for (const [index, root] of roots.entries()) {
    await Bun.write(`${root}/file`, "held");
    await connection.call(
      "fs/open",
      { handleId: `h${index}`, path: `${root}/file`, sandbox: policyOf(root) },
      signal,
    );
  }
  // The fixture never answers a request that mentions __stall__: the two kept workers stay busy.
  const stalls = Array.from({ length: 2 }, () => new AbortController());
  const stalled = stalls.map(async (stall, index) => {
    const busy = dir.join(`busy${index}`);
    await Bun.write(`${busy}/.keep`, "");
    return await connection.call(
      "fs/getMetadata",
      { path: `${busy}/__stall__`, sandbox: policyOf(busy) },
      stall.signal,
    ).catch(() => "withdrawn");
  });
  while ((await service.workerPids(SESSION)).size < MAX_RUNNING_WORKERS_PER_SESSION) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const extra = dir.join("extra");
  await Bun.write(`${extra}/.keep`, "");
  let answered = false;
  const waiting = metadata(connection, extra).finally(() => {
    answered = true;
  });
  // A round trip that wakes the waiting request (its worker goes idle), which finds the kept
  // workers still busy and waits on.
  expect(await connection.call("fs/readBlock", { handleId: "h0", offset: 0, len: 4 }, signal)).toEqual({
    chunk: b64("held"),
    eof: true,
  });
  expect(answered).toBe(false);
  stalls[0]?.abort();
  expect(await waiting).toMatchObject({ isDirectory: true });
  stalls[1]?.abort();
  expect(await Promise.all(stalled)).toEqual(["withdrawn", "withdrawn"]);
  await connection.close();
});

test("workers with open handles take at most three quarters of the server's bound", async () => {
  await using dir = await tempDir();
  const service = newService(dir, 4);
  const signal = new AbortController().signal;
  const connections = ["a", "b", "c", "d"].map((session) => service.openConnection(session));
  const roots = connections.map((_, index) => dir.join(`s${index}`));
  for (const root of roots) await Bun.write(`${root}/file`, "held");
  const open = (index: number) =>
    connections[index]?.call(
      "fs/open",
      { handleId: "h", path: `${roots[index]}/file`, sandbox: policyOf(roots[index] ?? "") },
      signal,
    );
  for (const index of [0, 1, 2]) expect(await open(index)).toEqual({ handleId: "h" });
  expect(await open(3)?.catch((error: unknown) => error)).toMatchObject({
    code: -32001,
    message: "sandbox worker limit reached: at most 3 of the server's 4 workers hold open file handles",
  });
  // The refused open left no worker in the way: the fourth session's other policies are served.
  const other = dir.join("other");
  await Bun.write(`${other}/.keep`, "");
  expect(await metadata(connections[3] as FsConnection, other)).toMatchObject({ isDirectory: true });
  await connections[0]?.call("fs/close", { handleId: "h" }, signal);
  expect(await open(3)).toEqual({ handleId: "h" });
  for (const connection of connections) await connection.close();
});

test("the server's bound holds over every session: the least recently used idle worker of any ends", async () => {
  await using dir = await tempDir();
  const service = newService(dir, 3);
  const first = service.openConnection("first");
  const second = service.openConnection("second");
  const roots = Array.from({ length: 4 }, (_, index) => dir.join(`s${index}`));
  for (const root of roots) await Bun.write(`${root}/.keep`, "");
  await metadata(first, roots[0] ?? "");
  await metadata(first, roots[1] ?? "");
  await metadata(second, roots[2] ?? "");
  await metadata(second, roots[3] ?? "");
  const running = [
    ...(await service.workerPids("first")).keys(),
    ...(await service.workerPids("second")).keys(),
  ];
  expect(running.length).toBe(3);
  // The first session's first worker was the least recently used.
  expect((await service.workerPids("first")).size).toBe(1);
  await first.close();
  await second.close();
});
