import type { Runtime } from "./runtime/mod.ts";
import {
  createLogger,
  HELP_TEXT,
  loadAuth,
  parseCommandLine,
  startExecServer,
  UsageError,
} from "./server/mod.ts";
import type { CliCommand } from "./server/mod.ts";
import { VERSION } from "./version.ts";

/** The serving command line: `--help`, `--version`, or start the server and run until a signal. */
export async function runCli(runtime: Runtime, args: readonly string[]): Promise<void> {
  let command: CliCommand;
  try {
    command = parseCommandLine(args);
  } catch (error) {
    return await usageExit(runtime, error);
  }
  switch (command.kind) {
    case "help":
      await runtime.writeStdout(new TextEncoder().encode(HELP_TEXT + "\n"));
      return;
    case "version":
      await runtime.writeStdout(new TextEncoder().encode(VERSION + "\n"));
      return;
    case "serve":
      break;
  }
  let server;
  try {
    // Like the server's modules, the services' load only to serve.
    const { createServices } = await import("./services.ts");
    // Before any service starts: a refused token file is then the only thing the server says.
    const auth = await loadAuth(command.options);
    const services = await createServices(runtime, command.options);
    // A refused start removes the cgroups containment has already made.
    server = await startExecServer(runtime, command.options, services, auth).catch(async (error: unknown) => {
      await services.close();
      throw error;
    });
  } catch (error) {
    return await usageExit(runtime, error);
  }
  // A fault that escapes one request or one process must not end every session (and, through the
  // watchdog, every client's processes): it is logged, and the server serves on.
  const log = createLogger((line) => void runtime.writeStderr(line), command.options.quiet);
  runtime.onUncaughtError((error) => log.error("uncaught error; still serving", error));
  if (server.url !== "stdio") await runtime.writeStdout(new TextEncoder().encode(server.url + "\n"));
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals > 1) runtime.exit(0);
    void server.shutdown();
  };
  runtime.onSignal("SIGTERM", onSignal);
  runtime.onSignal("SIGINT", onSignal);
  await server.finished;
  runtime.exit(0);
}

async function usageExit(runtime: Runtime, error: unknown): Promise<never> {
  if (!(error instanceof UsageError)) throw error;
  await runtime.writeStderr(`exec-server: ${error.message}\n`);
  return runtime.exit(2);
}
