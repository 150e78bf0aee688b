/**
 * Detection of the host's sandbox layers (once, at start-up) and their report in
 * `environmentInfo.extensions.sandbox` (PROTOCOL.md §11.1).
 */
import { access, constants } from "node:fs/promises";
import process from "node:process";
import { z } from "zod";
import type { Extensions } from "../protocol/mod.ts";
import type { Runtime } from "../runtime/mod.ts";
import { type HostFeatures, nativeBackendProblem, NO_HOST_FEATURES } from "./host_features_types.ts";

const ProbeReportSchema = z.object({
  landlockAbi: z.number().int().nonnegative(),
  userNamespace: z.boolean(),
  mountNamespace: z.boolean(),
  seccomp: z.boolean(),
  noNewPrivs: z.boolean(),
});

/**
 * Detects what this host offers. The irreversible probes (namespaces, no_new_privs, seccomp) run
 * in a child, `<self> sandbox-exec --probe`, so the server itself is never restricted. The
 * child starts like the launcher: in `/`, with `env` (`Runtime.imageEnv`), reading no config.
 */
export async function detectHostFeatures(
  runtime: Runtime,
  options: { command?: readonly string[]; env?: Readonly<Record<string, string>>; platform?: string } = {},
): Promise<HostFeatures> {
  const platform = options.platform ?? process.platform;
  const bubblewrap = await findOnPath("bwrap", runtime.env()["PATH"] ?? "");
  if (platform !== "linux") {
    return Object.freeze({ ...NO_HOST_FEATURES, bubblewrap, probeError: `${platform} has no Linux sandbox` });
  }
  const [program, ...args] = options.command ??
    runtime.imageCommand(runtime.selfImage(), ["sandbox-exec", "--probe"]);
  if (program === undefined) {
    return Object.freeze({ ...NO_HOST_FEATURES, bubblewrap, probeError: "no self command" });
  }
  try {
    const child = await runtime.spawn({
      program,
      args,
      argv0: program,
      cwd: "/",
      env: { ...options.env },
      stdin: "null",
    });
    const [stdout, stderr, status] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    if (status.code !== 0) {
      const detail = stderr.trim().split("\n").pop() ?? "";
      return Object.freeze({
        ...NO_HOST_FEATURES,
        bubblewrap,
        probeError: `sandbox probe failed: ${detail}`,
      });
    }
    const report = ProbeReportSchema.parse(JSON.parse(stdout));
    return Object.freeze({ ...report, bubblewrap, probeError: null });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return Object.freeze({ ...NO_HOST_FEATURES, bubblewrap, probeError: `sandbox probe failed: ${detail}` });
  }
}

/** The `sandbox` member of `environmentInfo.extensions`. */
export function sandboxExtensionInfo(features: HostFeatures): Extensions["sandbox"] {
  const problem = nativeBackendProblem(features);
  const layers = {
    userNamespace: features.userNamespace,
    mountNamespace: features.mountNamespace,
    seccomp: features.seccomp,
    landlockAbi: features.landlockAbi,
    noNewPrivs: features.noNewPrivs,
    bubblewrap: features.bubblewrap !== null,
  };
  if (problem !== null) {
    return { available: false, backend: "none", layers, networkRestriction: false, reason: problem };
  }
  return { available: true, backend: "native", layers, networkRestriction: features.seccomp };
}

async function findOnPath(name: string, path: string): Promise<string | null> {
  for (const dir of path.split(":")) {
    if (!dir.startsWith("/")) continue;
    const candidate = `${dir}/${name}`;
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking along PATH.
    }
  }
  return null;
}
