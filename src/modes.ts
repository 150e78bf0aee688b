import type { Runtime } from "./runtime/mod.ts";
import { runSandboxExec } from "./sandbox/mod.ts";

/** Runs an internal mode of the binary: the fs worker or the sandbox launcher. */
export async function runMode(
  runtime: Runtime,
  mode: "fs-worker" | "sandbox-exec",
  args: string[],
): Promise<void> {
  switch (mode) {
    case "sandbox-exec":
      await runSandboxExec(args, runtime.name);
      return;
    case "fs-worker": {
      const { runFsWorker } = await import("../worker/main.ts");
      await runFsWorker(runtime);
      return;
    }
  }
}
