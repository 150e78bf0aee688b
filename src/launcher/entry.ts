/**
 * The entry of the launcher's own bundle (built when the server runs from its sources, see
 * `src/sandbox/program_images.ts`): `<runtime> launcher.js sandbox-exec ARGS…`, the same argv as
 * `exec-server sandbox-exec ARGS…`, with nothing of the server's module graph.
 */
import process from "node:process";
import { currentRuntimeName } from "../runtime/mod.ts";
import { runSandboxExec } from "./sandbox_exec.ts";

const [mode, ...args] = process.argv.slice(2);
if (mode !== "sandbox-exec") {
  process.stderr.write(`exec-server launcher: expected sandbox-exec, got ${String(mode)}\n`);
  process.exit(120);
}
await runSandboxExec(args, currentRuntimeName());
