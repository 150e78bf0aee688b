/**
 * One server per runtime with the default flags, shared by the test files a `bun test` process
 * runs (`npm test` runs two files at a time, in two worker processes, without isolating the files
 * of one worker, so this module's state spans them). Starting a server costs a quarter to half a
 * second of both cores' time; a file that needs no flags of its own takes this one and opens its
 * own sessions. `test/helpers/run_teardown.ts` (preloaded by bunfig.toml) stops them once the
 * process's files are done (after each file, in a parallel worker), with the same leftover-cgroup
 * check as any other server.
 */
import type { RuntimeName, TestServer } from "./server.ts";
import { startServer } from "./server.ts";

const servers = new Map<RuntimeName, Promise<TestServer>>();

/** The run's default server for `runtime`; a new one when the last one has exited. */
export async function runServer(runtime: RuntimeName): Promise<TestServer> {
  const current = servers.get(runtime);
  if (current !== undefined) {
    const server = await current.catch(() => null);
    if (server !== null && server.child.exitCode === null && server.child.signalCode === null) return server;
  }
  const starting = startServer({ runtime });
  servers.set(runtime, starting);
  return await starting;
}

/** Stops every run server; resolves once each has exited and left no cgroup. */
export async function stopRunServers(): Promise<void> {
  const all = [...servers.values()];
  servers.clear();
  for (const starting of all) {
    const server = await starting.catch(() => null);
    await server?.[Symbol.asyncDispose]();
  }
}
