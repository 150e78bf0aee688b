/**
 * Resolution of the wire `sandbox` object (either form) into the internal policy of PROTOCOL.md
 * §8.2, with the unsandboxed cases of §8.3 and the refusals of §8.5.
 */
import { lstat } from "node:fs/promises";
import { ErrorCode, invalidParams, parsePathUri, pathToUri, RpcError } from "../protocol/mod.ts";
import {
  type Entry,
  formatSandboxIssues,
  type Permissions,
  type ReadOnlyAccess,
  type Sandbox,
  type SandboxPolicy,
  SandboxSchema,
} from "../protocol/mod.ts";
import { droppedDenialProblem } from "./dropped_denials.ts";
import { expandGlob, GlobScanLimitError, isWithin } from "./glob.ts";
import { walkHostPath } from "./host_walk.ts";
import { type HostFeatures, nativeBackendProblem } from "./host_features_types.ts";
import type { Policy, SandboxContext, SandboxResolution, ServerFiles } from "./policy_types.ts";
import { protectServerFiles, type RuleText } from "./server_files.ts";
import type { WrittenAreas } from "./written_areas.ts";

/** Directory depth a glob pattern is expanded to when `glob_scan_max_depth` is absent. */
export const DEFAULT_GLOB_SCAN_MAX_DEPTH = 16;

/** The `minimal` special: what programs need to run. */
export const MINIMAL_PATHS: readonly string[] = Object.freeze([
  "/bin",
  "/sbin",
  "/usr",
  "/lib",
  "/lib32",
  "/lib64",
  "/etc",
  "/dev/null",
  "/dev/zero",
  "/dev/full",
  "/dev/random",
  "/dev/urandom",
  "/dev/tty",
]);

const DYNAMIC_NEEDS_CWD = "file system sandbox context with dynamic permissions requires cwd";

type Access = "read" | "write" | "deny";

/** One path rule before the most-specific-wins reduction; `rule` names it in refusals. */
interface Rule {
  readonly path: string;
  readonly access: Access;
  readonly rule: string;
  /** Added by the server, not asked for by the client (legacy `.git`): never refused. */
  readonly implied?: boolean;
}

/**
 * Parses the raw `sandbox` member (as the params schema leaves it) and returns null for null or
 * absent; a malformed object is -32602 naming the member (`sandbox.permissions.network: …`).
 */
export function parseSandbox(value: unknown, field = "sandbox"): Sandbox | null {
  if (value === undefined || value === null) return null;
  const parsed = SandboxSchema.safeParse(value);
  if (!parsed.success) throw invalidParams(formatSandboxIssues(parsed.error.issues, field, value));
  return parsed.data;
}

/**
 * Resolves a wire `sandbox` value (raw or parsed) into `none` or an enforced policy with its key.
 * Throws -32602 for malformed objects, for rules this host cannot enforce, and when no backend
 * exists at all.
 */
export async function resolveSandbox(
  sandbox: unknown,
  context: SandboxContext,
  features: HostFeatures,
): Promise<SandboxResolution> {
  const parsed = parseSandbox(sandbox);
  if (parsed === null) return { kind: "none" };
  const built = parsed.permissions !== undefined
    ? await fromPermissions(parsed, parsed.permissions, context)
    : parsed.sandboxPolicy !== undefined
    ? await fromLegacy(parsed.sandboxPolicy, context)
    : null;
  if (built === null) return { kind: "none" };
  const network = context.network === "forceOff" ? false : built.network;
  const reduced = built.fixed === undefined ? reduceRules(built.rules, network) : { ...built.fixed, network };
  const policy = await protectServerFiles(reduced, context, ruleText(built.rules));
  checkEnforceable(policy, built.rules, features);
  await checkCarveOutPaths(policy, built.rules);
  await checkDroppedDenials(policy, built.rules);
  return enforced(policy, await hiddenPathsIdentity(policy));
}

/**
 * The policy for `enforceManagedNetwork: true` with `sandbox: null`: the whole file system
 * readable and writable, no network.
 */
export async function networkOffPolicy(
  features: HostFeatures,
  files: ServerFiles = {},
): Promise<SandboxResolution> {
  const whole: Policy = { readable: ["/"], writable: ["/"], denied: [], readOnly: [], network: false };
  const policy = await protectServerFiles(whole, files, ruleText([]));
  checkEnforceable(policy, [], features);
  return enforced(policy);
}

/** How refusals name the rule of a path and access: as the client wrote it, else by the path. */
function ruleText(rules: readonly Rule[]): RuleText {
  return (path, access) =>
    rules.find((rule) => rule.path === path && rule.access === access)?.rule ??
      `${access} ${pathToUri(path)}`;
}

/**
 * Before `policy` is launched: refuses a root the launcher looks up on the host (one that is not
 * inside another root of the policy, where it is found within that root's mount) whose path passes
 * through a symlink inside an area a sandbox of this server could write, since sandboxed code may
 * have planted it there to make a later policy's root name something else; then records the
 * policy's writable roots, and returns the policy with the areas for the launcher, which refuses
 * the same links again at the moment it binds the roots.
 */
export async function confineRootLinks(policy: Policy, areas: WrittenAreas | undefined): Promise<Policy> {
  if (areas === undefined) return policy;
  const foundWithin = (path: string): boolean =>
    [...policy.writable, ...policy.denied].some((area) =>
      area === "/" ? path !== "/" : path.startsWith(`${area}/`)
    );
  for (const [roots, access] of [[policy.readable, "read"], [policy.writable, "write"]] as const) {
    for (const root of roots) {
      if (foundWithin(root)) continue;
      const link = await linkInAreas(root, areas);
      if (link === null) continue;
      throw unenforceable(
        `${access} ${pathToUri(root)}`,
        `its path passes through the symbolic link ${pathToUri(link.at)}, inside ${
          pathToUri(link.area)
        }, which a sandbox could write`,
      );
    }
  }
  await areas.record(policy.writable);
  return { ...policy, noLinksIn: areas.list() };
}

/**
 * The first symlink met while `path` is looked up on the host, component by component as the
 * launcher does, that lies inside a recorded area; null when there is none or the path is missing.
 */
async function linkInAreas(path: string, areas: WrittenAreas): Promise<{ at: string; area: string } | null> {
  const walked = await walkHostPath(path, {
    missing: "null",
    stopAt: (link) => areas.holding(link) !== null,
  });
  const at = walked?.stoppedAt ?? null;
  const area = at === null ? null : areas.holding(at);
  return at === null || area === null ? null : { at, area };
}

/** A stable identity of a policy; equal policies give equal keys whatever their order. */
export function policyKey(policy: Policy): string {
  const sorted = (list: readonly string[]): string[] => [...new Set(list)].sort();
  return JSON.stringify([
    sorted(policy.readable),
    sorted(policy.writable),
    sorted(policy.denied),
    sorted(policy.readOnly),
    policy.network,
  ]);
}

function enforced(policy: Policy, identity = ""): SandboxResolution {
  const key = policyKey(policy) + identity;
  return Object.freeze({ kind: "enforced", policy: Object.freeze(policy), key });
}

/**
 * What the denied and read-only paths are right now (file identity and birth, or missing).
 * The launcher covers them with mounts when a worker starts; a path the host later replaces
 * (an editor's save renames a new `.env` over the old one, `rm -rf` and `mkdir`) is a new inode
 * whose cover the kernel detaches in every other namespace, and a path missing at start was
 * never covered. Keying workers by this identity makes such a change start a new worker with
 * fresh covers instead of reusing one that would now show the path.
 */
async function hiddenPathsIdentity(policy: Policy): Promise<string> {
  const paths = [...policy.denied, ...policy.readOnly];
  if (paths.length === 0) return "";
  const parts = await Promise.all(paths.map(async (path) => {
    try {
      // Not ctime: it moves with every write to a file and every entry made in a directory,
      // neither of which detaches a cover; a new inode (or a new birth of a reused one) does.
      const info = await lstat(path, { bigint: true });
      return `${info.dev}:${info.ino}:${info.birthtimeNs}`;
    } catch {
      // Missing (or unreachable): nothing to cover yet.
      return "-";
    }
  }));
  return `|${parts.join(",")}`;
}

interface Built {
  readonly rules: readonly Rule[];
  readonly network: boolean;
  /** Set when the form maps to a fixed policy rather than to rules. */
  readonly fixed?: Policy;
}

// ---------------------------------------------------------------------------------------------
// Permission profile (Codex 0.169)

async function fromPermissions(
  sandbox: Sandbox,
  permissions: Permissions,
  context: SandboxContext,
): Promise<Built | null> {
  switch (permissions.type) {
    case "disabled":
    case "external":
      return null;
    case "managed": {
      const network = permissions.network === "enabled";
      const fileSystem = permissions.file_system;
      if (fileSystem.type === "unrestricted") {
        if (network) return null;
        const fixed: Policy = { readable: ["/"], writable: ["/"], denied: [], readOnly: [], network };
        return { rules: [rootRule("write")], network, fixed };
      }
      const contextCwd = profileContextCwd(sandbox);
      const roots = workspaceRoots(sandbox);
      const rules: Rule[] = [];
      const globs: { pattern: string; rule: string }[] = [];
      fileSystem.entries.forEach((entry, index) => {
        const field = `sandbox.permissions.file_system.entries.${index}`;
        const access: Access = entry.access === "none" ? "deny" : entry.access;
        const target = entry.path;
        switch (target.type) {
          case "path": {
            const path = parsePathUri(target.path, `${field}.path.path`);
            rules.push({ path, access, rule: `${entry.access} ${pathToUri(path)}` });
            return;
          }
          case "glob_pattern": {
            const rule = `${entry.access} glob:${target.pattern}`;
            if (access !== "deny") throw unenforceable(rule, "glob patterns can only deny");
            globs.push({ pattern: target.pattern, rule });
            return;
          }
          case "special":
            for (const path of specialPaths(entry, { field, contextCwd, roots, env: context.env })) {
              rules.push({ path, access, rule: `${entry.access} special:${target.value.kind}` });
            }
            return;
          default:
            return assertNever(target);
        }
      });
      if (globs.length > 0) {
        const scanRoots = rules.filter((rule) => rule.access !== "deny").map((rule) => rule.path);
        const maxDepth = fileSystem.glob_scan_max_depth ?? DEFAULT_GLOB_SCAN_MAX_DEPTH;
        for (const glob of globs) {
          let matches: string[];
          try {
            matches = await expandGlob(glob.pattern, { roots: scanRoots, maxDepth });
          } catch (error) {
            if (error instanceof GlobScanLimitError) throw unenforceable(glob.rule, error.message);
            throw error;
          }
          for (const path of matches) rules.push({ path, access: "deny", rule: glob.rule });
        }
      }
      return { rules, network };
    }
    default:
      return assertNever(permissions);
  }
}

function profileContextCwd(sandbox: Sandbox): string | null {
  if (sandbox.cwd !== undefined && sandbox.cwd !== null) return parsePathUri(sandbox.cwd, "sandbox.cwd");
  const cwd = sandbox.policyContext?.cwd;
  if (cwd !== undefined && cwd !== null) return parsePathUri(cwd, "sandbox.policyContext.cwd");
  return null;
}

function workspaceRoots(sandbox: Sandbox): string[] | null {
  const nested = sandbox.policyContext?.workspaceRoots;
  if (nested !== undefined && nested !== null) {
    return nested.map((root, i) => parsePathUri(root, `sandbox.policyContext.workspaceRoots.${i}`));
  }
  const flat = sandbox.workspaceRoots;
  if (flat !== undefined && flat !== null) {
    return flat.map((root, i) => parsePathUri(root, `sandbox.workspaceRoots.${i}`));
  }
  return null;
}

function specialPaths(
  entry: Entry,
  where: {
    field: string;
    contextCwd: string | null;
    roots: string[] | null;
    env: Readonly<Record<string, string>>;
  },
): string[] {
  if (entry.path.type !== "special") return [];
  const value = entry.path.value;
  switch (value.kind) {
    case "root":
      return ["/"];
    case "minimal":
      return [...MINIMAL_PATHS];
    case "current_working_directory":
      if (where.contextCwd === null) throw invalidParams(DYNAMIC_NEEDS_CWD);
      return [where.contextCwd];
    case "project_roots": {
      if (where.contextCwd === null) throw invalidParams(DYNAMIC_NEEDS_CWD);
      const roots = where.roots ?? [where.contextCwd];
      const subpath = value.subpath ?? null;
      if (subpath === null || subpath === "") return roots;
      return roots.map((root) => joinSubpath(root, subpath, `${where.field}.path.value.subpath`));
    }
    case "tmpdir": {
      const tmpdir = where.env["TMPDIR"];
      if (tmpdir === undefined || tmpdir === "") return [];
      return [parsePathUri(tmpdir, "TMPDIR")];
    }
    case "slash_tmp":
      return ["/tmp"];
    case "unknown":
      throw unenforceable(`${entry.access} special:unknown`, "unknown special path kind");
    default:
      return assertNever(value.kind);
  }
}

function joinSubpath(root: string, subpath: string, field: string): string {
  if (subpath.startsWith("/") || subpath.includes("\0")) {
    throw invalidParams(
      `${field} must be a relative path inside the project root, got ${JSON.stringify(subpath)}`,
    );
  }
  const joined = parsePathUri(`${root}/${subpath}`, field);
  if (!isWithin(joined, root)) {
    throw invalidParams(
      `${field} must be a relative path inside the project root, got ${JSON.stringify(subpath)}`,
    );
  }
  return joined;
}

// ---------------------------------------------------------------------------------------------
// Legacy policy (Codex 0.121 era)

async function fromLegacy(policy: SandboxPolicy, context: SandboxContext): Promise<Built | null> {
  switch (policy.type) {
    case "danger-full-access":
    case "external-sandbox":
      return null;
    case "read-only":
      return {
        rules: readRules(policy.access ?? null, "sandbox.sandboxPolicy.access"),
        network: policy.network_access ?? false,
      };
    case "workspace-write": {
      const rules = readRules(policy.read_only_access ?? null, "sandbox.sandboxPolicy.read_only_access");
      const writable: string[] = [context.cwd];
      (policy.writable_roots ?? []).forEach((root, i) => {
        writable.push(parsePathUri(root, `sandbox.sandboxPolicy.writable_roots.${i}`));
      });
      const tmpdir = context.env["TMPDIR"];
      if (policy.exclude_tmpdir_env_var !== true && tmpdir !== undefined && tmpdir !== "") {
        writable.push(parsePathUri(tmpdir, "TMPDIR"));
      }
      if (policy.exclude_slash_tmp !== true) writable.push("/tmp");
      for (const path of writable) rules.push({ path, access: "write", rule: `write ${pathToUri(path)}` });
      for (const root of new Set(writable)) {
        const git = root === "/" ? "/.git" : `${root}/.git`;
        // A symlinked `.git` is not kept read-only: the carve-out would not follow it (see
        // `checkCarveOutPaths`), and what it points at is outside this rule's intent.
        if (await isRealEntry(git)) {
          rules.push({ path: git, access: "read", rule: `read ${pathToUri(git)}`, implied: true });
        }
      }
      return { rules, network: policy.network_access ?? false };
    }
    default:
      return assertNever(policy);
  }
}

function readRules(access: ReadOnlyAccess | null, field: string): Rule[] {
  if (access === null || access.type === "full-access") return [rootRule("read")];
  const rules: Rule[] = [];
  (access.readable_roots ?? []).forEach((root, i) => {
    const path = parsePathUri(root, `${field}.readable_roots.${i}`);
    rules.push({ path, access: "read", rule: `read ${pathToUri(path)}` });
  });
  if (access.include_platform_defaults === true) {
    for (const path of MINIMAL_PATHS) rules.push({ path, access: "read", rule: "read special:minimal" });
  }
  return rules;
}

async function isRealEntry(path: string): Promise<boolean> {
  try {
    return !(await lstat(path)).isSymbolicLink();
  } catch {
    // Any failure means there is no entry the policy could keep read-only.
    return false;
  }
}

/**
 * Refuses a denied or read-only path whose way from its enclosing root passes through a
 * symbolic link. The launcher resolves carve-outs without following links (sandboxed code may
 * have planted them), so such a carve-out would protect nothing: the client learns it now,
 * instead of getting less confinement than it asked for.
 */
async function checkCarveOutPaths(policy: Policy, rules: readonly Rule[]): Promise<void> {
  const roots = [...policy.readable, ...policy.writable];
  for (const [paths, access] of [[policy.denied, "deny"], [policy.readOnly, "read"]] as const) {
    for (const path of paths) {
      const rule = rules.find((candidate) => candidate.path === path && candidate.access === access);
      if (rule === undefined || rule.implied === true) continue;
      const root = roots.filter((candidate) => candidate !== path && isWithin(path, candidate))
        .sort((a, b) => b.length - a.length)[0];
      if (root === undefined) continue;
      let current = root === "/" ? "" : root;
      for (const part of path.slice(current.length + 1).split("/")) {
        current += `/${part}`;
        const info = await lstat(current).catch(() => null);
        if (info === null) break;
        if (info.isSymbolicLink()) throw unenforceable(rule.rule, "the path passes through a symbolic link");
      }
    }
  }
}

/**
 * Refuses a denial that the reduction dropped as outside every root (or inside another denial)
 * when, through a symbolic link on its path or on a root's, it names something a root shows
 * (`dropped_denials.ts`): left out, it would protect nothing.
 */
async function checkDroppedDenials(policy: Policy, rules: readonly Rule[]): Promise<void> {
  const dropped = rules.filter((rule) => rule.access === "deny" && !policy.denied.includes(rule.path));
  const problem = await droppedDenialProblem(policy, dropped);
  if (problem !== null) throw unenforceable(problem.rule, problem.reason);
}

function rootRule(access: Access): Rule {
  return { path: "/", access, rule: `${access} special:root` };
}

// ---------------------------------------------------------------------------------------------
// Most specific wins

const ACCESS_RANK: Record<Access, number> = { read: 0, write: 1, deny: 2 };

/**
 * Reduces rules to a policy: per path the strongest access (deny over write over read), then
 * each path classified against its nearest ancestor rule. Redundant rules and denials outside
 * every root are dropped.
 */
function reduceRules(rules: readonly Rule[], network: boolean): Policy {
  const byPath = new Map<string, Access>();
  for (const rule of rules) {
    const previous = byPath.get(rule.path);
    if (previous === undefined || ACCESS_RANK[rule.access] > ACCESS_RANK[previous]) {
      byPath.set(rule.path, rule.access);
    }
  }
  const paths = [...byPath.keys()].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
  const readable: string[] = [];
  const writable: string[] = [];
  const denied: string[] = [];
  const readOnly: string[] = [];
  for (const path of paths) {
    const access = byPath.get(path) ?? "read";
    const ancestors = paths.filter((other) => other !== path && isWithin(path, other));
    const nearest = ancestors.length === 0 ? null : byPath.get(ancestors[ancestors.length - 1] ?? "") ?? null;
    const insideWritable = ancestors.some((other) => byPath.get(other) === "write");
    switch (access) {
      case "write":
        if (nearest !== "write") writable.push(path);
        break;
      case "read":
        if (nearest === null) readable.push(path);
        else if (nearest === "write") readOnly.push(path);
        else if (nearest === "deny") (insideWritable ? readOnly : readable).push(path);
        break;
      case "deny":
        if (nearest === "read" || nearest === "write") denied.push(path);
        break;
      default:
        assertNever(access);
    }
  }
  return { readable, writable, denied, readOnly, network };
}

function depth(path: string): number {
  return path === "/" ? 0 : path.split("/").length - 1;
}

// ---------------------------------------------------------------------------------------------
// Refusals (§8.5)

/** Kernel interfaces no sandbox may write: the launcher shows them read-only inside any root. */
const KERNEL_INTERFACE_ROOTS: readonly string[] = ["/sys", "/proc"];

function checkEnforceable(policy: Policy, rules: readonly Rule[], features: HostFeatures): void {
  const problem = nativeBackendProblem(features);
  if (problem !== null) {
    throw new RpcError(
      ErrorCode.InvalidParams,
      "Unenforceable",
      `sandbox cannot be enforced on this host: ${problem}`,
    );
  }
  const ruleFor = (path: string, access: Access): string =>
    rules.find((rule) => rule.path === path && rule.access === access)?.rule ??
      `${access} ${pathToUri(path)}`;
  for (const path of policy.writable) {
    if (KERNEL_INTERFACE_ROOTS.some((root) => isWithin(path, root))) {
      throw unenforceable(ruleFor(path, "write"), "kernel interfaces are never writable in a sandbox");
    }
  }
  if (!features.mountNamespace) {
    const reason = "mount namespace unavailable";
    const deniedPath = policy.denied[0];
    if (deniedPath !== undefined) throw unenforceable(ruleFor(deniedPath, "deny"), reason);
    const readOnlyPath = policy.readOnly[0];
    if (readOnlyPath !== undefined) throw unenforceable(ruleFor(readOnlyPath, "read"), reason);
    // Without the mount layer, chmod, chown, utimes and xattrs reach every path outside the
    // writable roots, so any policy short of a writable `/` needs it.
    if (!policy.writable.includes("/")) {
      const readPath = policy.readable[0];
      const first = readPath !== undefined
        ? ruleFor(readPath, "read")
        : ruleFor(policy.writable[0] ?? "/", "write");
      throw unenforceable(first, reason);
    }
  }
  if (!policy.network && !features.seccomp) throw unenforceable("network restricted", "seccomp unavailable");
}

function unenforceable(rule: string, reason: string): RpcError {
  return new RpcError(
    ErrorCode.InvalidParams,
    "Unenforceable",
    `sandbox rule ${rule} cannot be enforced: ${reason}`,
  );
}

function assertNever(value: never): never {
  throw new TypeError(`unexpected value ${JSON.stringify(value)}`);
}
