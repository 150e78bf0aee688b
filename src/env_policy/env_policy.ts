import { envGlob } from "../protocol/mod.ts";
import type { EnvPolicy } from "../protocol/mod.ts";
import { envRecord } from "../runtime/mod.ts";

/** Names kept by `inherit: "core"` (compared case-insensitively). */
const CORE_NAMES = new Set(
  ["PATH", "SHELL", "TMPDIR", "TEMP", "TMP", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LOGNAME", "USER"],
);
/** Dropped unless `ignoreDefaultExcludes`. */
const DEFAULT_EXCLUDES = ["*KEY*", "*SECRET*", "*TOKEN*"];
/** Launch secrets that never reach a child, whatever `set` and the overlay say (§6.3 step 7). */
const SCRUBBED = new Set([
  "CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN",
  "NODE_REPL_AUTH_TOKEN",
  "OPENAI_FEDERATION_RULE_ID",
  "OPENAI_IDENTITY_TOKEN_FILE",
  "OPENAI_WORKLOAD_IDENTITY_CONTEXT",
]);

/**
 * Computes a child's whole environment (PROTOCOL.md §6): exactly `overlay` without a policy,
 * otherwise the server's environment filtered by the policy with `overlay` laid over it. The
 * result has no prototype, so that every name is a member of its own, `__proto__` too.
 */
export function buildChildEnv(
  serverEnv: Readonly<Record<string, string>>,
  policy: EnvPolicy | null | undefined,
  overlay: Readonly<Record<string, string>>,
): Record<string, string> {
  if (!policy) return Object.assign(envRecord(), overlay);
  const result = new Map<string, string>();
  for (const [name, value] of Object.entries(serverEnv)) {
    if (policy.inherit === "all" || (policy.inherit === "core" && CORE_NAMES.has(name.toUpperCase()))) {
      result.set(name, value);
    }
  }
  const excludes = [...(policy.ignoreDefaultExcludes ? [] : DEFAULT_EXCLUDES), ...policy.exclude].map(
    envGlob,
  );
  for (const name of [...result.keys()]) {
    if (excludes.some((glob) => glob.test(name))) result.delete(name);
  }
  for (const [name, value] of Object.entries(policy.set)) result.set(name, value);
  if (policy.includeOnly.length > 0) {
    const includes = policy.includeOnly.map(envGlob);
    for (const name of [...result.keys()]) {
      if (!includes.some((glob) => glob.test(name))) result.delete(name);
    }
  }
  for (const [name, value] of Object.entries(overlay)) result.set(name, value);
  const env = envRecord();
  for (const [name, value] of result) {
    if (!SCRUBBED.has(name.toUpperCase())) env[name] = value;
  }
  return env;
}
