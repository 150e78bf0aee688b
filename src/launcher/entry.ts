/**
 * The entry of the launcher's own bundle (built when the server runs from its sources, see
 * `src/sandbox/program_images.ts`): `<runtime> launcher.js sandbox-exec ARGS…`, the same argv as
 * `exec-server sandbox-exec ARGS…`, with nothing of the server's module graph, and under Deno
 * nothing of Node's compatibility layer (`LauncherProcess`).
 */
import { currentRuntimeName, launcherProcess } from "../runtime/mod.ts";
import { runSandboxExec } from "./sandbox_exec.ts";

const runtimeName = currentRuntimeName();
// No top-level await: under Bun the bundle is CommonJS, which Bun precompiles to bytecode. A
// rejection is unhandled, which ends the process with status 1 on both runtimes.
void launcherProcess(runtimeName).then(async (process) => {
  const [mode, ...args] = process.args;
  if (mode !== "sandbox-exec") {
    process.writeStderr(`exec-server launcher: expected sandbox-exec, got ${String(mode)}\n`);
    process.exit(120);
  }
  await runSandboxExec(args, runtimeName);
});
