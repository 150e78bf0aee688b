/**
 * The sandbox: policy model from both wire forms, host features, launch plans and the
 * restrict-then-exec launcher.
 */
export {
  DEFAULT_GLOB_SCAN_MAX_DEPTH,
  MINIMAL_PATHS,
  networkOffPolicy,
  parseSandbox,
  policyKey,
  resolveSandbox,
} from "./policy.ts";
export type { Policy, SandboxContext, SandboxResolution } from "./policy_types.ts";
export { nativeBackendProblem, NO_HOST_FEATURES } from "./host_features_types.ts";
export type { HostFeatures } from "./host_features_types.ts";
export { detectHostFeatures, sandboxExtensionInfo } from "./host_features.ts";
export { sandboxedCommand, workerCommand } from "./launch_plan.ts";
export { processPlanner } from "./process_planner.ts";
export type { LaunchCommand, LaunchTarget } from "./launch_plan.ts";
