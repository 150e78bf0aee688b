import type { Runtime } from "./runtime/mod.ts";

/** Runs an internal mode of the binary: the fs worker or the sandbox launcher. */
export async function runMode(
  runtime: Runtime,
  mode: "fs-worker" | "sandbox-exec",
  args: string[],
): Promise<void> {
  void args;
  await Promise.resolve();
  runtime.writeStderr(`exec-server: mode ${mode} is not available in this build\n`);
  runtime.exit(2);
}
