import type { ProgramImage, Runtime } from "./runtime/mod.ts";
import {
  createLogger,
  HELP_TEXT,
  loadAuth,
  parseCommandLine,
  serveUntilSignalled,
  startExecServer,
  UsageError,
} from "./server/mod.ts";
import type { CliCommand, RunningServer, ServerOptions } from "./server/mod.ts";
import { VERSION } from "./version.ts";

/** Who runs the CLI: the program for its internal modes, and whether this is a run of one of them. */
export interface CliCaller {
  /** Runs the `sandbox-exec` and `fs-worker` modes (default: the runtime's main program). */
  readonly self?: ProgramImage;
  /**
   * The environment marks this process as a run of the server's images (`IMAGE_RUN_VARIABLE`): a
   * program that embeds the server with fixed arguments, started as its own launcher, must not
   * serve again, and its launcher again, without end.
   */
  readonly imageRun?: boolean;
  /**
   * How long each start-up probe child may take (`ServerOptions.startStepLimitMs`; default 30 s):
   * an embedder's choice, not a flag.
   */
  readonly startStepLimitMs?: number;
}

/** The serving command line: `--help`, `--version`, or start the server and run until a signal. */
export async function runCli(
  runtime: Runtime,
  args: readonly string[],
  caller: CliCaller = {},
): Promise<void> {
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
  if (caller.imageRun === true) {
    return await usageExit(
      runtime,
      new UsageError(
        "started as the sandbox launcher or fs worker (EXEC_SERVER_IMAGE_RUN is set) but asked to serve: " +
          "a program compiled or bundled with exec-server inside must pass its arguments to main()",
      ),
    );
  }
  const code = await serveUntilSignalled(
    runtime,
    (abort) =>
      startServing(
        runtime,
        caller.startStepLimitMs === undefined
          ? command.options
          : { ...command.options, startStepLimitMs: caller.startStepLimitMs },
        caller.self,
        abort,
      ),
    (server) => announce(runtime, server, command.options.quiet),
  );
  runtime.exit(code);
}

/** Starts the services and the server; a refused start exits 2 with its reason. */
async function startServing(
  runtime: Runtime,
  options: ServerOptions,
  self: ProgramImage | undefined,
  abort: AbortSignal,
): Promise<RunningServer> {
  try {
    // Like the server's modules, the services' load only to serve.
    const { createServices } = await import("./services.ts");
    // Before any service starts: a refused token file is then the only thing the server says.
    const auth = await loadAuth(options);
    const services = await createServices(runtime, options, self, abort);
    // A refused start removes the cgroups containment has already made.
    return await startExecServer(runtime, options, services, auth).catch(async (error: unknown) => {
      await services.close();
      throw error;
    });
  } catch (error) {
    return await usageExit(runtime, error);
  }
}

/** Says where the server listens, as the first stdout line, once it serves. */
async function announce(runtime: Runtime, server: RunningServer, quiet: boolean): Promise<void> {
  // A fault that escapes one request or one process must not end every session (and, through the
  // watchdog, every client's processes): it is logged, and the server serves on.
  const log = createLogger((line) => void runtime.writeStderr(line), quiet);
  runtime.onUncaughtError((error) => log.error("uncaught error; still serving", error));
  if (server.url === "stdio") return;
  try {
    await runtime.writeStdout(new TextEncoder().encode(server.url + "\n"));
  } catch (error) {
    // Clients learn where the server listens from this line alone (port 0): a server that cannot
    // say it would serve nobody, and hold its port and its children, until someone kills it.
    log.error("cannot write the URL to stdout; shutting down", error);
    throw error;
  }
}

async function usageExit(runtime: Runtime, error: unknown): Promise<never> {
  if (!(error instanceof UsageError)) throw error;
  await runtime.writeStderr(`exec-server: ${error.message}\n`);
  return runtime.exit(2);
}
