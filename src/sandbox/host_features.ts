/**
 * Detection of the host's sandbox layers (once, at start-up) and their report in
 * `environmentInfo.extensions.sandbox` (PROTOCOL.md §11.1).
 */
import { access, constants } from "node:fs/promises";
import process from "node:process";
import { z } from "zod";
import type { Extensions } from "../protocol/mod.ts";
import type { Runtime } from "../runtime/mod.ts";
import { limitText, START_STEP_LIMIT_MS } from "../containment/mod.ts";
import { type HostFeatures, nativeBackendProblem, NO_HOST_FEATURES } from "./host_features_types.ts";
import { runImage } from "./image_run.ts";
import { probeContextKey, readProbeReport, writeProbeReport } from "./probe_cache.ts";

const ProbeReportSchema = z.object({
  landlockAbi: z.number().int().nonnegative(),
  userNamespace: z.boolean(),
  mountNamespace: z.boolean(),
  ipcNamespace: z.boolean(),
  seccomp: z.boolean(),
  noNewPrivs: z.boolean(),
});

type ProbeReport = z.infer<typeof ProbeReportSchema>;

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
  /**
   * A directory of this user's, read-only in every sandbox, where reports are kept per probe
   * context (`probe_cache.ts`); without it the probe runs every time.
   */
  readonly reportCache?: string;
  /**
   * How long the probe may take before its process group is killed and the host counts as
   * having no sandbox (default `START_STEP_LIMIT_MS`).
   */
  readonly limitMs?: number;
  /** Told when the probe timed out, for the server's log. */
  readonly onTimeout?: (message: string) => void;
  /** Fires when the server exits during start-up: the probe's group is killed at once. */
  readonly abort?: AbortSignal;
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
    // The system's own first: it runs unconfined at every sandboxed launch, and a PATH that starts
    // with a user's or a project's directory (~/.local/bin, node_modules/.bin under `bun run` and
    // npx) may lead to one that an earlier sandbox left where none was, for this start to find.
    const unshare = await findOnPath("unshare", `${SYSTEM_BIN}:${path}`);
    if (unshare === null) return none(NON_ROOT_NEEDS + ": util-linux unshare is not on PATH");
    helper = [unshare, "--user", "--map-current-user", "--keep-caps", "--"];
  }
  const [program, ...args] = [
    ...(helper ?? []),
    ...(options.command ?? runtime.imageCommand(runtime.selfImage(), ["sandbox-exec", "--probe"])),
  ];
  if (program === undefined) return none("no self command");
  const probe = [program, ...args];
  const key = options.reportCache === undefined ? null : await probeContextKey(probe);
  const kept = key === null ? null : await readProbeReport(options.reportCache ?? "", key);
  const keptReport = kept === null ? null : ProbeReportSchema.safeParse(safeJson(kept));
  let report: ProbeReport;
  if (keptReport?.success === true) {
    report = keptReport.data;
  } else {
    const limitMs = options.limitMs ?? START_STEP_LIMIT_MS;
    const probed = await runProbe(runtime, probe, options.env, { limitMs, abort: options.abort });
    if ("timedOut" in probed) {
      const why = `the sandbox probe did not finish within ${
        limitText(limitMs)
      }; its process group was killed`;
      options.onTimeout?.(`start-up step timed out: ${why}`);
      return none(`sandbox probe failed: ${why}`);
    }
    if ("failed" in probed) {
      return none(
        root || !probed.exited
          ? `sandbox probe failed: ${probed.failed}`
          : `${NON_ROOT_NEEDS}: ${probed.failed}`,
      );
    }
    report = probed.report;
    if (key !== null) await writeProbeReport(options.reportCache ?? "", key, report);
  }
  const landlockAbi = Math.min(report.landlockAbi, options.landlockAbiCeiling ?? report.landlockAbi);
  if (!root && !report.mountNamespace) return none(`${NON_ROOT_NEEDS}: the user namespace cannot mount`);
  return Object.freeze({ ...report, landlockAbi, bubblewrap, userNamespaceHelper: helper, probeError: null });
}

/**
 * Runs the probe; resolves with its report, or with why it failed and whether it ran to an exit
 * status (a non-root probe that exits with an error met a host that refuses its namespaces), or
 * with its time-out (its process group killed).
 */
async function runProbe(
  runtime: Runtime,
  command: readonly string[],
  env: Readonly<Record<string, string>> | undefined,
  { limitMs, abort }: { limitMs: number; abort: AbortSignal | undefined },
): Promise<{ report: ProbeReport } | { failed: string; exited: boolean } | { timedOut: true }> {
  try {
    const ran = await runImage(runtime, command, env ?? {}, limitMs, undefined, abort);
    if (ran === null) return { timedOut: true };
    const { stdout, stderr, code } = ran;
    if (code !== 0) return { failed: stderr.trim().split("\n").pop() ?? "", exited: true };
    return { report: ProbeReportSchema.parse(JSON.parse(stdout)) };
  } catch (error) {
    return { failed: error instanceof Error ? error.message : String(error), exited: false };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Where the system keeps util-linux: directories only root writes. */
const SYSTEM_BIN = "/usr/bin:/bin:/usr/sbin:/sbin";

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
    ipcNamespace: features.ipcNamespace,
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
