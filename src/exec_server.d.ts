/**
 * Types of the package's "." entry, `dist/exec-server.js` (the bundle of `mod.ts`), which the
 * build copies beside it. `test/e2e/package_types.ts` fails `tsc` when they drift from `mod.ts`.
 */

/** This server's version, reported as `executorVersion` and `extensions.version`. */
export declare const VERSION: string;

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
