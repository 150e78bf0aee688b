#!/usr/bin/env -S bun --config=/dev/null --no-env-file
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
import { fileURLToPath } from "node:url";
import type { Environment, EnvironmentManager, EnvironmentManagerOptions } from "./src/client/mod.ts";
import type { LocalEnvironmentOptions as LocalOptions } from "./src/local/mod.ts";
import { detectRuntime, IMAGE_RUN_VARIABLE } from "./src/runtime/mod.ts";
import type { ProgramImage, Runtime } from "./src/runtime/mod.ts";

export { VERSION } from "./src/version.ts";
export type {
  ClientError,
  Environment,
  EnvironmentCapabilities,
  EnvironmentManager,
  EnvironmentManagerOptions,
  ExecService,
  ProcessEvent,
  ProcessHandle,
  RpcError,
  StartRequest,
} from "./src/client/mod.ts";

/** Options of `localEnvironment`; the defaults are the server's (docs/protocol.md §2.8, §3.10). */
export type LocalEnvironmentOptions = Omit<LocalOptions, "runtime" | "self">;

/**
 * The program that runs this module's CLI, for the sandbox launcher and the fs worker: this file
 * under the current runtime, whether it is `mod.ts` or the bundle built from it, or the compiled
 * executable itself.
 */
function ownImage(runtime: Runtime): ProgramImage {
  const running = runtime.selfImage();
  if (running.script === null) return running;
  return { executable: running.executable, script: fileURLToPath(import.meta.url) };
}

/**
 * The `EnvironmentManager` of this machine: `EXEC_SERVER_URL` (or `CODEX_EXEC_SERVER_URL`) unset
 * gives a `LocalEnvironment`, `none` a disabled one, a `ws://`/`wss://` URL a remote one. The
 * client and the Local environment load on first call, so the CLI's modes stay light.
 *
 * @example
 * ```ts
 * import { environmentManager } from "exec-server";
 *
 * await using manager = await environmentManager();
 * const env = await manager.environment();
 * await using proc = await env.exec.start({ argv: ["uname", "-a"], cwd: "/" });
 * ```
 */
export async function environmentManager(
  options: Omit<EnvironmentManagerOptions, "local"> & { readonly local?: LocalEnvironmentOptions } = {},
): Promise<EnvironmentManager> {
  const [client, local, runtime] = await Promise.all([
    import("./src/client/mod.ts"),
    import("./src/local/mod.ts"),
    detectRuntime(),
  ]);
  const { local: localOptions, ...managerOptions } = options;
  return new client.EnvironmentManager({
    env: runtime.env(),
    ...managerOptions,
    local: () => local.LocalEnvironment.create({ ...localOptions, runtime, self: ownImage(runtime) }),
  });
}

/**
 * This machine as an `Environment`: the server's process table and file system, in process.
 *
 * @example
 * ```ts
 * import { localEnvironment } from "exec-server";
 *
 * await using env = await localEnvironment();
 * const { entries } = await env.fs.readDirectory({ path: "/srv/app" });
 * ```
 */
export async function localEnvironment(options: LocalEnvironmentOptions = {}): Promise<Environment> {
  const [{ LocalEnvironment }, runtime] = await Promise.all([import("./src/local/mod.ts"), detectRuntime()]);
  return await LocalEnvironment.create({ ...options, runtime, self: ownImage(runtime) });
}

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
      const { parseReadable, runFsWorker } = await import("./worker/main.ts");
      await runFsWorker(runtime, parseReadable(args.slice(1)));
      return;
    }
    default: {
      const { runCli } = await import("./src/cli.ts");
      // This module, not the runtime's main one: a program that embeds the server is not its CLI.
      const imageRun = runtime.env()[IMAGE_RUN_VARIABLE] !== undefined;
      await runCli(runtime, args, { self: ownImage(runtime), imageRun });
    }
  }
}

if (import.meta.main) await main(process.argv.slice(2));
