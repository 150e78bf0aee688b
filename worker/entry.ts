/**
 * The entry of the fs worker's own bundle (built when the server runs from its sources, see
 * `src/sandbox/program_images.ts`): the one file a sandboxed worker can read, so it sees nothing
 * else of the server's installation.
 */
import process from "node:process";
import { processStdio } from "../src/runtime/mod.ts";
import { parseReadable, runFsWorker } from "./main.ts";

// No top-level await: under Bun the bundle is CommonJS, which Bun precompiles to bytecode. A
// rejection is unhandled, which ends the process with status 1 on both runtimes.
// Its process's streams, not the whole runtime adapter, whose modules would all run first.
void processStdio().then(async (stdio) => {
  // `fs-worker --readable PATH…` (`workerLaunch`): the paths Deno's fence lets it read.
  await runFsWorker(stdio, parseReadable(process.argv.slice(3)));
  stdio.exit(0);
});
