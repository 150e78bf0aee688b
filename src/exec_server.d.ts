/**
 * Types of the package's "." entry, `dist/exec-server.js` (the bundle of `mod.ts`), which the
 * build copies beside it; the client's types are generated into `dist/client/` (and the protocol
 * and rpc declarations they use) by `npm run build:types`. `test/e2e/package_types.ts` fails
 * `tsc` when these drift from `mod.ts`.
 */
import type { Environment, EnvironmentManager, EnvironmentManagerOptions } from "./client/mod.ts";

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
} from "./client/mod.ts";

/** This server's version, reported as `executorVersion` and `extensions.version`. */
export declare const VERSION: string;

/** Options of `localEnvironment`; the defaults are the server's (docs/protocol.md §2.8, §3.10). */
export interface LocalEnvironmentOptions {
  readonly retainedOutputBytes?: number;
  readonly processRetentionMs?: number;
  readonly killGraceMs?: number;
  readonly maxProcesses?: number;
  readonly maxReadFileBytes?: number;
}

/**
 * The `EnvironmentManager` of this machine: `EXEC_SERVER_URL` (or `CODEX_EXEC_SERVER_URL`) unset
 * gives a Local environment, `none` a disabled one, a `ws://`/`wss://` URL a remote one.
 *
 * @example
 * ```ts
 * import { environmentManager } from "exec-server";
 *
 * await using manager = await environmentManager();
 * const env = await manager.environment();
 * ```
 */
export declare function environmentManager(
  options?: Omit<EnvironmentManagerOptions, "local"> & { readonly local?: LocalEnvironmentOptions },
): Promise<EnvironmentManager>;

/**
 * This machine as an `Environment`: the server's process table and file system, in process.
 *
 * @example
 * ```ts
 * import { localEnvironment } from "exec-server";
 *
 * await using env = await localEnvironment();
 * ```
 */
export declare function localEnvironment(options?: LocalEnvironmentOptions): Promise<Environment>;

/**
 * Runs the command line: serves until SIGTERM or SIGINT, or runs `--help`, `--version`, or an
 * internal mode (`sandbox-exec`, `fs-worker`).
 *
 * @example
 * ```ts
 * import { main } from "exec-server";
 * await main(["--listen", "ws://127.0.0.1:0"]);
 * ```
 */
export declare function main(args: readonly string[]): Promise<void>;
