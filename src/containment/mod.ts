/**
 * Containment: every process and all it starts held together (a cgroup, or the process group
 * plus a /proc walk), limited, measured, and killed with its session or with the server.
 */
export type {
  Container,
  Containment,
  ProcessLimits,
  ProcessUsage,
  SessionContainment,
} from "./containment.ts";
export { cgroupPlaces, findCgroupPlaces } from "./cgroup_mounts.ts";
export { findJoinTools, joinCommand } from "./join_command.ts";
export type { JoinTools } from "./join_command.ts";
export { installJoinHelper, joinHelperCode, sealedJoinHelper } from "./join_helper.ts";
export { NO_LIMITS, resolveLimits } from "./limits.ts";
export { ProcessTreeSession } from "./process_tree.ts";
export { signalGroup } from "./signal_group.ts";
export { startContainment } from "./start_containment.ts";
export { limitText, START_STEP_LIMIT_MS, withinStepLimit } from "./step_limit.ts";
