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

/** What `detectHostFeatures` may be told instead of finding out. */
export interface DetectOptions {
  /** The probe's argv (default: this program, `sandbox-exec --probe`). */
  readonly command?: readonly string[];
  /** The probe's whole environment (`Runtime.imageEnv`). */
  readonly env?: Readonly<Record<string, string>>;
  readonly platform?: string;
  /** Whether the server runs as root (default: its uid is 0). */
  readonly root?: boolean;
  /**
   * A Landlock ABI to assume at most (tests of older kernels, from
   * `EXEC_SERVER_TEST_LANDLOCK_ABI`): it can only lower what the kernel reports.
   */
  readonly landlockAbiCeiling?: number;
}

/**
 * Detects what this host offers. The irreversible probes (namespaces, no_new_privs, seccomp) run
 * in a child, `<self> sandbox-exec --probe`, so the server itself is never restricted. The
 * child starts like the launcher: in `/`, with `env` (`Runtime.imageEnv`), reading no config,
 * and for a non-root server inside a user namespace made by util-linux `unshare`.
 */
export async function detectHostFeatures(
  runtime: Runtime,
  options: DetectOptions = {},
): Promise<HostFeatures> {
  const platform = options.platform ?? process.platform;
  const path = runtime.env()["PATH"] ?? "";
  const bubblewrap = await findOnPath("bwrap", path);
  const none = (probeError: string): HostFeatures =>
    Object.freeze({ ...NO_HOST_FEATURES, bubblewrap, probeError });
  if (platform !== "linux") return none(`${platform} has no Linux sandbox`);
  const root = options.root ?? process.getuid?.() === 0;
  let helper: string[] | null = null;
  if (!root) {
    const unshare = await findOnPath("unshare", `${path}:/usr/bin:/bin`);
    if (unshare === null) return none(NON_ROOT_NEEDS + ": util-linux unshare is not on PATH");
    helper = [unshare, "--user", "--map-current-user", "--keep-caps", "--"];
  }
  const [program, ...args] = [
    ...(helper ?? []),
    ...(options.command ?? runtime.imageCommand(runtime.selfImage(), ["sandbox-exec", "--probe"])),
  ];
  if (program === undefined) return none("no self command");
  let report: z.infer<typeof ProbeReportSchema>;
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
      return none(root ? `sandbox probe failed: ${detail}` : `${NON_ROOT_NEEDS}: ${detail}`);
    }
    report = ProbeReportSchema.parse(JSON.parse(stdout));
  } catch (error) {
    return none(`sandbox probe failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const landlockAbi = Math.min(report.landlockAbi, options.landlockAbiCeiling ?? report.landlockAbi);
  if (!root && !report.mountNamespace) return none(`${NON_ROOT_NEEDS}: the user namespace cannot mount`);
  return Object.freeze({ ...report, landlockAbi, bubblewrap, userNamespaceHelper: helper, probeError: null });
}

/** Why a non-root server may have no sandbox, and what would give it one. */
const NON_ROOT_NEEDS = "a non-root server sandboxes in an unprivileged user namespace, which needs " +
  "util-linux unshare and a kernel that allows them (sysctl kernel.unprivileged_userns_clone=1; on " +
  "Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0)";

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
  const privilege = features.userNamespaceHelper === null ? "root" : "userNamespace";
  if (problem !== null) {
    return {
      available: false,
      backend: "none",
      layers,
      networkRestriction: false,
      privilege,
      reason: problem,
    };
  }
  return { available: true, backend: "native", layers, networkRestriction: features.seccomp, privilege };
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
