import { afterAll, beforeAll } from "bun:test";
import type { RuntimeName, TestServer } from "./server.ts";
import { runServer } from "./run_servers.ts";
import { startServer } from "./server.ts";

/**
 * One server for every test of the enclosing `describe`: started in `beforeAll`, stopped in
 * `afterAll`. Without flags or environment of its own it is the test process's default server for
 * `runtime` (`runServer`), which every such `describe` of the process's files shares and which
 * ends with the process. Tests stay independent by opening their own session; use a per-test
 * server when a test needs its own flags, may break the server or measures it.
 */
export function sharedServer(
  runtime: RuntimeName,
  args: string[] = [],
  env: Record<string, string> = {},
): () => TestServer {
  let server: TestServer | null = null;
  const own = args.length > 0 || Object.keys(env).length > 0;
  beforeAll(async () => {
    server = own ? await startServer({ runtime, args, env }) : await runServer(runtime);
  });
  afterAll(async () => {
    if (own) await server?.[Symbol.asyncDispose]();
  });
  return () => {
    if (server === null) throw new Error("the shared server has not started");
    return server;
  };
}

/** `process/start` params with the usual defaults (`env: {}`, no tty) and `overrides` on top. */
export function startParams(
  processId: string,
  argv: string[],
  cwd: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return { processId, argv, cwd, env: {}, tty: false, ...overrides };
}

/** A small PATH for children that run shell utilities. */
export const CHILD_PATH = { PATH: "/usr/local/bin:/usr/bin:/bin" };

/** Base64 of a text. */
export function b64(text: string): string {
  return Buffer.from(text).toString("base64");
}
