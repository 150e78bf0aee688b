#!/usr/bin/env bun
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

export { VERSION } from "./src/version.ts";

/**
 * Runs the command line. The internal modes load only what they need: the launcher starts before
 * every sandboxed process, so it must not pay for the server's modules (zod, hono).
 *
 * @example
 * ```ts
 * import { main } from "./mod.ts";
 * await main(["--listen", "ws://127.0.0.1:0"]);
 * ```
 */
export async function main(args: readonly string[]): Promise<void> {
  const runtime = await detectRuntime();
  switch (args[0]) {
    case "sandbox-exec": {
      const { runSandboxExec } = await import("./src/launcher/mod.ts");
      await runSandboxExec(args.slice(1), runtime.name);
      return;
    }
    case "fs-worker": {
      const { runFsWorker } = await import("./worker/main.ts");
      await runFsWorker(runtime);
      return;
    }
    default: {
      const { runCli } = await import("./src/cli.ts");
      await runCli(runtime, args);
    }
  }
}

if (import.meta.main) await main(process.argv.slice(2));
