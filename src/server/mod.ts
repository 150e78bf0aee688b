export { loadAuth, startExecServer } from "./exec_server.ts";
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
export type { Logger } from "./logger.ts";
