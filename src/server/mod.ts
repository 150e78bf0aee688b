type ServerModule = typeof import("./exec_server.ts");

export type { RunningServer, ServerServices } from "./exec_server.ts";
export {
  defaultOptions,
  HELP_TEXT,
  isLoopback,
  parseCommandLine,
  parseListen,
  UsageError,
} from "./options.ts";
export type { CliCommand, ServerOptions } from "./options.ts";
export type { FsPort } from "./server_context.ts";
export { createLogger } from "./logger.ts";
export { serveUntilSignalled } from "./signal_shutdown.ts";
export type { Logger } from "./logger.ts";

/**
 * The server's own modules (hono, zod, the handlers) load on first use, so `--help`, `--version`
 * and a refused command line answer without them (`--version` here: 0.15 s instead of 0.24 on Deno,
 * 0.05 s instead of 0.11 on Bun).
 */
function serverModule(): Promise<ServerModule> {
  return import("./exec_server.ts");
}

/** Reads the token the options name (`exec_server.ts`). */
export async function loadAuth(
  ...args: Parameters<ServerModule["loadAuth"]>
): ReturnType<ServerModule["loadAuth"]> {
  return await (await serverModule()).loadAuth(...args);
}

/** Starts serving on the options' listener (`exec_server.ts`). */
export async function startExecServer(
  ...args: Parameters<ServerModule["startExecServer"]>
): ReturnType<ServerModule["startExecServer"]> {
  return await (await serverModule()).startExecServer(...args);
}
