/**
 * The sandbox: policy model from both wire forms, host features, launch plans and the
 * restrict-then-exec launcher.
 */
export {
  confineRootLinks,
  DEFAULT_GLOB_SCAN_MAX_DEPTH,
  MINIMAL_PATHS,
  networkOffPolicy,
  parseSandbox,
  policyKey,
  resolveSandbox,
} from "./policy.ts";
export type { Policy, SandboxContext, SandboxResolution, ServerFiles } from "./policy_types.ts";
export { WrittenAreas } from "./written_areas.ts";
export { nativeBackendProblem, NO_HOST_FEATURES } from "./host_features_types.ts";
export type { HostFeatures } from "./host_features_types.ts";
export { detectHostFeatures, sandboxExtensionInfo } from "./host_features.ts";
export { sandboxedLaunch, workerLaunch } from "./launch_plan.ts";
export type { Launch, LaunchContext, LaunchHandoff, LaunchTarget } from "./launch_plan.ts";
export { prepareProgramImages } from "./program_images.ts";
export { createStateDir } from "./state_dir.ts";
export type { TreeRemover } from "./state_dir.ts";
export type { ProgramImages } from "./program_images.ts";
export { processPlanner } from "./process_planner.ts";
export type { ProcessPlannerDeps } from "./process_planner.ts";
export { setUpSandbox } from "./sandbox_setup.ts";
export type { SandboxSetup } from "./sandbox_setup.ts";
