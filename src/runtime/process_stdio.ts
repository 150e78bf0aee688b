/**
 * A process's own standard streams and exit: what the fs worker needs of its process, and the
 * part of `Runtime` that the adapters take from here. The worker's bundle holds only this, not
 * the adapter with its spawn, server and terminal code: every module of a bundle runs before the
 * worker's first answer, and without them a Bun worker answered 1 ms sooner (13.5 against 14.5 ms
 * to its first answer, outside any sandbox) and its bundle left out `node:child_process`,
 * `node:vm` and `node:url`.
 */
export interface ProcessStdio {
  stdin(): ReadableStream<Uint8Array>;
  /** Writes in call order, never interleaving two callers' bytes. */
  writeStdout(data: Uint8Array): Promise<void>;
  /** Like `writeStdout`; a stderr that is gone is ignored, as there is nowhere to report it. */
  writeStderr(text: string): Promise<void>;
  exit(code: number): never;
}

/** The Deno implementation, hidden from `tsc` (which has no Deno types); bundlers fold the name. */
async function importDenoStdio(): Promise<unknown> {
  return await import("./deno_stdio" + ".ts");
}

/**
 * This process's streams under the runtime it runs on. It tells the runtimes apart itself, as
 * `detectRuntime` does: importing `detect.ts` would bring it into the worker's bundle (the boundary
 * test refuses that).
 */
export async function processStdio(): Promise<ProcessStdio> {
  if ("Bun" in globalThis) {
    const { BunStdio } = await import("./bun_stdio.ts");
    return new BunStdio();
  }
  if ("Deno" in globalThis) {
    const adapter = await importDenoStdio();
    if (typeof adapter === "object" && adapter !== null && "DenoStdio" in adapter) {
      const Stdio = adapter.DenoStdio;
      // deno_stdio.ts declares `class DenoStdio implements ProcessStdio`; `deno check` verifies it.
      if (typeof Stdio === "function") return new (Stdio as new () => ProcessStdio)();
    }
    throw new TypeError("deno_stdio.ts does not export DenoStdio");
  }
  throw new TypeError("unsupported runtime: exec-server runs on bun or deno");
}
