import type { SandboxPlanner } from "../process/mod.ts";
import type { HostFeatures } from "./host_features_types.ts";
import { sandboxedLaunch } from "./launch_plan.ts";
import type { LaunchContext } from "./launch_plan.ts";
import { confineRootLinks, networkOffPolicy, resolveSandbox } from "./policy.ts";
import type { SandboxResolution, ServerFiles } from "./policy_types.ts";

/** What planning a process's sandbox needs. */
export interface ProcessPlannerDeps {
  readonly features: HostFeatures;
  readonly serverEnv: Readonly<Record<string, string>>;
  /** The server's own and secret files, protected in every policy. */
  readonly protection: ServerFiles;
  /** The launcher and worker images, once they exist. */
  readonly launchContext: () => Promise<LaunchContext>;
}

/**
 * Resolves a process's sandbox (§8) into a launcher wrapper, or null to run it directly. The
 * server and the Local environment plan alike.
 */
export function processPlanner(deps: ProcessPlannerDeps): SandboxPlanner {
  const { features, serverEnv, protection } = deps;
  return {
    async plan(sandbox, context) {
      let resolution: SandboxResolution = await resolveSandbox(sandbox, {
        cwd: context.cwd,
        env: serverEnv,
        network: context.networkOff ? "forceOff" : "asPolicy",
        ...protection,
      }, features);
      if (resolution.kind === "none" && context.networkOff) {
        resolution = await networkOffPolicy(features, protection);
      }
      if (resolution.kind === "none") return null;
      const policy = await confineRootLinks(resolution.policy, protection.writtenAreas);
      const launch = await deps.launchContext();
      return (target) => sandboxedLaunch(launch, policy, target);
    },
  };
}
