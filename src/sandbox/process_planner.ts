import type { SandboxPlanner } from "../process/mod.ts";
import type { HostFeatures } from "./host_features_types.ts";
import { sandboxedCommand } from "./launch_plan.ts";
import { networkOffPolicy, resolveSandbox } from "./policy.ts";
import type { SandboxResolution } from "./policy_types.ts";

/**
 * Resolves a process's sandbox (§8) into a launcher wrapper, or null to run it directly. `self`
 * starts the exec-server program whose `sandbox-exec` mode is the launcher. The server and the
 * Local environment plan alike.
 */
export function processPlanner(
  self: readonly string[],
  features: HostFeatures,
  serverEnv: Readonly<Record<string, string>>,
): SandboxPlanner {
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
