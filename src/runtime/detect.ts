/**
 * Picks the adapter of the runtime that executes this code.
 */
import type { Runtime, RuntimeName } from "./runtime.ts";

/** The runtime executing this code, known without loading its adapter (the launcher needs no more). */
export function currentRuntimeName(): RuntimeName {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  throw new TypeError("unsupported runtime: exec-server runs on bun or deno");
}

/** The Deno adapter's specifier, folded to a constant by bundlers but hidden from `tsc`. */
async function importDenoAdapter(): Promise<unknown> {
  // `tsc` has no Deno types, so it must not follow this import (tsconfig excludes deno*.ts, but
  // a literal import would pull the file back in); Bun's bundler folds the concatenation and
  // still bundles the module, and `deno check src/runtime/deno.ts` type-checks it.
  return await import("./deno" + ".ts");
}

/** Loads the adapter for the current runtime; the other runtime's module is never evaluated. */
export async function detectRuntime(): Promise<Runtime> {
  if ("Bun" in globalThis) {
    const { createBunRuntime } = await import("./bun.ts");
    return await createBunRuntime();
  }
  if ("Deno" in globalThis) {
    const adapter = await importDenoAdapter();
    if (typeof adapter === "object" && adapter !== null && "createDenoRuntime" in adapter) {
      const create = adapter.createDenoRuntime;
      if (typeof create === "function") {
        // deno.ts declares `createDenoRuntime(): Promise<Runtime>`; `deno check` verifies it there.
        return await (create as () => Promise<Runtime>)();
      }
    }
    throw new TypeError("the deno adapter does not export createDenoRuntime");
  }
  throw new TypeError("unsupported runtime: exec-server runs on bun or deno");
}
