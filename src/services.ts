import { FsService } from "./fs/mod.ts";
import type { Runtime } from "./runtime/mod.ts";
import {
  detectHostFeatures,
  networkOffPolicy,
  resolveSandbox,
  sandboxedCommand,
  sandboxExtensionInfo,
} from "./sandbox/mod.ts";
import type { HostFeatures, SandboxResolution } from "./sandbox/mod.ts";
import type { SandboxPlanner } from "./process/mod.ts";
import { createLogger } from "./server/mod.ts";
import type { ServerOptions, ServerServices } from "./server/mod.ts";

/** Composes the sandbox planner and the fs service for the server. */
export async function createServices(runtime: Runtime, options: ServerOptions): Promise<ServerServices> {
  const features = await detectHostFeatures(runtime);
  const serverEnv = runtime.env();
  const log = createLogger((line) => void runtime.writeStderr(line), options.quiet);
  const fs = new FsService(runtime, {
    maxReadFileBytes: options.maxReadFileBytes,
    serverCwd: runtime.cwd(),
    serverEnv,
    hostFeatures: features,
    log: (message, detail) => log.error(message, detail),
  });
  return {
    planner: processPlanner(runtime, features, serverEnv),
    sandboxInfo: sandboxExtensionInfo(features),
    openFsConnection: (sessionId) => fs.openConnection(sessionId),
    closeSession: (sessionId) => fs.closeSession(sessionId),
    close: () => fs.close(),
  };
}

/** Resolves a process's sandbox (§8) into a launcher wrapper, or null to run it directly. */
function processPlanner(
  runtime: Runtime,
  features: HostFeatures,
  serverEnv: Readonly<Record<string, string>>,
): SandboxPlanner {
  const self = runtime.selfCommand();
  return {
    async plan(sandbox, context) {
      let resolution: SandboxResolution = await resolveSandbox(sandbox, {
        cwd: context.cwd,
        env: serverEnv,
        network: context.networkOff ? "forceOff" : "asPolicy",
      }, features);
      if (resolution.kind === "none" && context.networkOff) resolution = networkOffPolicy(features);
      if (resolution.kind === "none") return null;
      const policy = resolution.policy;
      return (target) => sandboxedCommand(self, policy, { ...target, args: [...target.args] });
    },
  };
}
