/**
 * The entry of the fs worker's own bundle (built when the server runs from its sources, see
 * `src/sandbox/program_images.ts`): the one file a sandboxed worker can read, so it sees nothing
 * else of the server's installation.
 */
import { detectRuntime } from "../src/runtime/mod.ts";
import { runFsWorker } from "./main.ts";

// No top-level await: under Bun the bundle is CommonJS, which Bun precompiles to bytecode. A
// rejection is unhandled, which ends the process with status 1 on both runtimes.
void detectRuntime().then(async (runtime) => {
  await runFsWorker(runtime);
  runtime.exit(0);
});
