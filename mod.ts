/**
 * exec-server: a WebSocket JSON-RPC execution server for AI coding agents, wire-compatible with
 * Codex's exec-server, running on Bun and Deno.
 *
 * @example
 * ```sh
 * bun mod.ts --listen ws://127.0.0.1:0        # prints ws://127.0.0.1:PORT, then serves
 * deno run -A mod.ts --listen stdio           # JSON-RPC over stdin/stdout
 * ```
 * @module
 */
import process from "node:process";
import { detectRuntime } from "./src/runtime/mod.ts";
import type { Runtime } from "./src/runtime/mod.ts";
import { HELP_TEXT, parseCommandLine, startExecServer, UsageError } from "./src/server/mod.ts";
import type { CliCommand } from "./src/server/mod.ts";
import { createServices } from "./src/services.ts";
import { VERSION } from "./src/version.ts";

export { startExecServer } from "./src/server/mod.ts";
export type { RunningServer, ServerOptions } from "./src/server/mod.ts";
export { VERSION } from "./src/version.ts";

/** Runs the command line: serve, or one of the internal modes. */
export async function main(args: readonly string[]): Promise<void> {
  const runtime = await detectRuntime();
  let command: CliCommand;
  try {
    command = parseCommandLine(args);
  } catch (error) {
    return usageExit(runtime, error);
  }
  switch (command.kind) {
    case "help":
      await runtime.writeStdout(new TextEncoder().encode(HELP_TEXT + "\n"));
      return;
    case "version":
      await runtime.writeStdout(new TextEncoder().encode(VERSION + "\n"));
      return;
    case "mode":
      await runMode(runtime, command.mode, command.args);
      return;
    case "serve":
      break;
  }
  const services = await createServices(runtime, command.options);
  let server;
  try {
    server = await startExecServer(runtime, command.options, services);
  } catch (error) {
    return usageExit(runtime, error);
  }
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

async function runMode(runtime: Runtime, mode: "fs-worker" | "sandbox-exec", args: string[]): Promise<void> {
  const { runMode: run } = await import("./src/modes.ts");
  await run(runtime, mode, args);
}

async function usageExit(runtime: Runtime, error: unknown): Promise<never> {
  if (!(error instanceof UsageError)) throw error;
  await runtime.writeStderr(`exec-server: ${error.message}\n`);
  return runtime.exit(2);
}

if (import.meta.main) await main(process.argv.slice(2));
