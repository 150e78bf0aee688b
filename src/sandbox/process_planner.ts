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
      const areas = protection.writtenAreas;
      const policy = await confineRootLinks(resolution.policy, areas);
      const launch = await deps.launchContext();
      // The launcher gets the areas recorded by the time it is started, not those of this plan: a
      // start planned at the same moment as the first policy that may write an area would otherwise
      // leave it out, and that policy's sandbox could plant a link there before this launch.
      return (target) =>
        sandboxedLaunch(
          launch,
          areas === undefined ? policy : { ...policy, noLinksIn: areas.list() },
          target,
        );
    },
  };
}
