/**
 * One server per runtime with the default flags, shared by every test file a `bun test` process
 * runs (`npm test` runs two files at a time, in two worker processes that do not isolate their
 * files from each other, so this module's state spans a worker's files). Starting a server costs
 * a quarter to half a second of both cores' time; a file that needs no flags of its own takes this
 * one and opens its own sessions.
 *
 * A worker cannot tell which file is its last (its preloaded `afterAll` runs after every file) and
 * `bun test` emits no `exit` event, so the kernel ends these servers: they start under `setpriv
 * --pdeathsig SIGTERM`, which execs the server with SIGTERM as its parent-death signal. When the
 * test process ends, however it ends, each server gets SIGTERM and cleans up as on any SIGTERM
 * (the per-test servers' disposal checks that cleanup).
 */
import type { RuntimeName, TestServer } from "./server.ts";
import { serverCommand, startServer } from "./server.ts";

const servers = new Map<RuntimeName, Promise<TestServer>>();

/** The process's default server for `runtime`; a new one when the last one has exited. */
export async function runServer(runtime: RuntimeName): Promise<TestServer> {
  const current = servers.get(runtime);
  if (current !== undefined) {
    const server = await current.catch(() => null);
    if (server !== null && server.child.exitCode === null && server.child.signalCode === null) return server;
  }
  const command = ["setpriv", "--pdeathsig", "SIGTERM", "--", ...serverCommand(runtime)];
  const starting = startServer({ runtime, command });
  servers.set(runtime, starting);
  return await starting;
}
