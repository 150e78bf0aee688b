import type { MethodSpec } from "./protocol/mod.ts";
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
import type { ServerOptions, ServerServices } from "./server/mod.ts";

/** Composes the sandbox planner and the fs service for the server. */
export async function createServices(runtime: Runtime, options: ServerOptions): Promise<ServerServices> {
  const features = await detectHostFeatures(runtime);
  const serverEnv = runtime.env();
  void options;
  const fsMethods = new Map<string, MethodSpec>();
  return {
    planner: processPlanner(runtime, features, serverEnv),
    sandboxInfo: sandboxExtensionInfo(features),
    fsMethods,
    openFsConnection: () => ({
      call: () => Promise.reject(new Error("fs not wired")),
      close: () => Promise.resolve(),
    }),
    closeSession: () => Promise.resolve(),
    close: () => Promise.resolve(),
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
