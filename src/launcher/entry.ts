/**
 * The entry of the launcher's own bundle (built when the server runs from its sources, see
 * `src/sandbox/program_images.ts`): `<runtime> launcher.js sandbox-exec ARGS…`, the same argv as
 * `exec-server sandbox-exec ARGS…`, with nothing of the server's module graph, and under Deno
 * nothing of Node's compatibility layer (`LauncherProcess`).
 */
import { currentRuntimeName, launcherProcess } from "../runtime/mod.ts";
import { runSandboxExec } from "./sandbox_exec.ts";

const runtimeName = currentRuntimeName();
const process = await launcherProcess(runtimeName);
const [mode, ...args] = process.args;
if (mode !== "sandbox-exec") {
  process.writeStderr(`exec-server launcher: expected sandbox-exec, got ${String(mode)}\n`);
  process.exit(120);
}
await runSandboxExec(args, runtimeName);
