/**
 * A request's limits over the server's defaults, refused where the host cannot enforce them.
 */
import { ErrorCode, RpcError } from "../protocol/mod.ts";
import type { ContainmentInfo, ProcessLimitsParam } from "../protocol/mod.ts";
import type { ProcessLimits } from "./containment.ts";

/** No limit at all. */
export const NO_LIMITS: ProcessLimits = Object.freeze({ memoryBytes: null, pids: null, cpuSeconds: null });

/**
 * Each member of the request, else the server's default. A limit the host cannot enforce is
 * -32602 (Unenforceable), never dropped: a caller that asked for a bound must not run without it.
 */
export function resolveLimits(
  request: ProcessLimitsParam | null | undefined,
  defaults: ProcessLimits,
  info: Pick<ContainmentInfo, "limits" | "reason">,
): ProcessLimits {
  const limits: ProcessLimits = {
    memoryBytes: request?.memoryBytes ?? defaults.memoryBytes,
    pids: request?.pids ?? defaults.pids,
    cpuSeconds: request?.cpuSeconds ?? defaults.cpuSeconds,
  };
  for (const name of ["memoryBytes", "pids", "cpuSeconds"] as const) {
    if (limits[name] !== null && !info.limits[name]) {
      throw new RpcError(
        ErrorCode.InvalidParams,
        "Unenforceable",
        `limits.${name} cannot be enforced on this host: ${info.reason ?? "no cgroup controller for it"}`,
      );
    }
  }
  return limits;
}

/** The `defaultLimits` member of the containment info: only the limits that are set. */
export function defaultLimitsInfo(defaults: ProcessLimits): ContainmentInfo["defaultLimits"] {
  const info: ContainmentInfo["defaultLimits"] = {};
  if (defaults.memoryBytes !== null) info.memoryBytes = defaults.memoryBytes;
  if (defaults.pids !== null) info.pids = defaults.pids;
  if (defaults.cpuSeconds !== null) info.cpuSeconds = defaults.cpuSeconds;
  return info;
}
