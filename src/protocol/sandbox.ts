/**
 * The `sandbox` object of PROTOCOL.md §8.1 in both wire forms: the Codex 0.169 permission profile
 * (`permissions`) and the Codex 0.121-era legacy policy (`sandboxPolicy`).
 *
 * Path members stay plain strings here; `src/sandbox` turns them into native paths with the
 * field name the error message needs.
 */
import { z } from "zod";

/** Builds a string enum whose error reads `expected one of "a", "b"` as PROTOCOL.md §8.1 asks. */
function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(values, { error: () => expectedOneOf(values) });
}

/** The message for a value outside a closed set. */
export function expectedOneOf(values: readonly string[]): string {
  return `expected one of ${values.map((value) => JSON.stringify(value)).join(", ")}`;
}

/** The error option of a discriminated union on `type`, naming the accepted types. */
function typeError(values: readonly string[]): { error: () => string } {
  return { error: () => expectedOneOf(values) };
}

/** Network access of a managed or external profile. */
export const NetworkAccessSchema = oneOf(["restricted", "enabled"]);
export type NetworkAccess = z.infer<typeof NetworkAccessSchema>;

/** The kinds of a `special` entry path. */
export const SpecialKindSchema = oneOf([
  "root",
  "minimal",
  "current_working_directory",
  "project_roots",
  "tmpdir",
  "slash_tmp",
  "unknown",
]);
export type SpecialKind = z.infer<typeof SpecialKindSchema>;

/** What an entry grants; `deny` and `none` mean the same. */
export const EntryAccessSchema = oneOf(["read", "write", "deny", "none"]);
export type EntryAccess = z.infer<typeof EntryAccessSchema>;

/** The path of one profile entry. */
export const EntryPathSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("path"),
    /** A PathUri. */
    path: z.string(),
  }),
  z.object({
    type: z.literal("glob_pattern"),
    /** `*` within a name, `**` across directories, `?` one character. */
    pattern: z.string(),
  }),
  z.object({
    type: z.literal("special"),
    value: z.object({
      kind: SpecialKindSchema,
      /** Joined to each project root (`project_roots` only). */
      subpath: z.string().nullish(),
      /** Carried by Codex for some kinds; not used here. */
      path: z.string().nullish(),
    }),
  }),
], typeError(["path", "glob_pattern", "special"]));
export type EntryPath = z.infer<typeof EntryPathSchema>;

/** One file system entry of a managed profile. */
export const EntrySchema = z.object({
  path: EntryPathSchema,
  access: EntryAccessSchema,
});
export type Entry = z.infer<typeof EntrySchema>;

/**
 * The most entries, or roots, one list of a sandbox may hold. The policy's reduction compares its
 * paths with one another: 16,000 nested entries took a server 161 s and held every other client;
 * clients send a handful.
 */
export const MAX_SANDBOX_LIST = 1024;

/** The file system part of a managed profile. */
export const FileSystemPermissionsSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("restricted"),
    entries: z.array(EntrySchema).max(MAX_SANDBOX_LIST),
    /** How many directories deep a glob pattern is expanded; 16 when absent. */
    glob_scan_max_depth: z.number().int().nonnegative().nullish(),
  }),
  z.object({ type: z.literal("unrestricted") }),
], typeError(["restricted", "unrestricted"]));
export type FileSystemPermissions = z.infer<typeof FileSystemPermissionsSchema>;

/** `sandbox.permissions` of the Codex 0.169 profile. */
export const PermissionsSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("managed"),
    file_system: FileSystemPermissionsSchema,
    network: NetworkAccessSchema,
  }),
  z.object({ type: z.literal("disabled") }),
  z.object({ type: z.literal("external"), network: NetworkAccessSchema }),
], typeError(["managed", "disabled", "external"]));
export type Permissions = z.infer<typeof PermissionsSchema>;

/** `access` of a legacy read-only or workspace-write policy. */
export const ReadOnlyAccessSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("full-access") }),
  z.object({
    type: z.literal("restricted"),
    /** Adds the `minimal` set of paths programs need. */
    include_platform_defaults: z.boolean().nullish(),
    /** PathUris readable recursively. */
    readable_roots: z.array(z.string()).max(MAX_SANDBOX_LIST).nullish(),
  }),
], typeError(["full-access", "restricted"]));
export type ReadOnlyAccess = z.infer<typeof ReadOnlyAccessSchema>;

/** `sandbox.sandboxPolicy` of the legacy form. */
export const SandboxPolicySchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("read-only"),
    access: ReadOnlyAccessSchema.nullish(),
    network_access: z.boolean().nullish(),
  }),
  z.object({
    type: z.literal("workspace-write"),
    /** PathUris writable in addition to the context cwd. */
    writable_roots: z.array(z.string()).max(MAX_SANDBOX_LIST).nullish(),
    read_only_access: ReadOnlyAccessSchema.nullish(),
    network_access: z.boolean().nullish(),
    /** Leaves `$TMPDIR` out of the writable roots. */
    exclude_tmpdir_env_var: z.boolean().nullish(),
    /** Leaves `/tmp` out of the writable roots. */
    exclude_slash_tmp: z.boolean().nullish(),
  }),
  z.object({ type: z.literal("danger-full-access") }),
  z.object({
    type: z.literal("external-sandbox"),
    network_access: z.union([z.boolean(), NetworkAccessSchema]).nullish(),
  }),
], typeError(["read-only", "workspace-write", "danger-full-access", "external-sandbox"]));
export type SandboxPolicy = z.infer<typeof SandboxPolicySchema>;

/** `policyContext` of the profile form. */
export const PolicyContextSchema = z.object({
  /** PathUri; the context cwd when `sandbox.cwd` is absent. */
  cwd: z.string().nullish(),
  /** PathUris of the workspace roots (`project_roots`). */
  workspaceRoots: z.array(z.string()).max(MAX_SANDBOX_LIST).nullish(),
});
export type PolicyContext = z.infer<typeof PolicyContextSchema>;

const PROFILE_WINDOWS_LEVELS = ["disabled", "restricted-token", "elevated", "mxc"] as const;
const LEGACY_WINDOWS_LEVELS = ["disabled", "restricted-token", "elevated"] as const;

/**
 * The `sandbox` object in either wire form. It is one object schema (not a union) so that a bad
 * member is reported at its own dotted path; the check below tells the forms apart.
 */
export const SandboxSchema = z.object({
  /** Present in the profile form. */
  permissions: PermissionsSchema.optional(),
  /** Present in the legacy form. */
  sandboxPolicy: SandboxPolicySchema.optional(),
  /** Required by both forms; it has no effect on this host. `mxc` only in the profile form. */
  windowsSandboxLevel: oneOf(PROFILE_WINDOWS_LEVELS),
  /** PathUri; the context cwd of dynamic entries (profile form). */
  cwd: z.string().nullish(),
  policyContext: PolicyContextSchema.nullish(),
  /** Older flat form of `policyContext.workspaceRoots`. */
  workspaceRoots: z.array(z.string()).max(MAX_SANDBOX_LIST).nullish(),
  /** Accepted and unused. */
  userHomeDir: z.string().nullish(),
  /** Accepted and unused. */
  temporaryDirectories: z.array(z.string()).nullish(),
  /** Accepted and ignored. */
  useLegacyLandlock: z.boolean().nullish(),
  /** Accepted and ignored. */
  windowsSandboxProxySettingsMode: z.unknown().optional(),
  /** Accepted and ignored (legacy form). */
  windowsSandboxPrivateDesktop: z.boolean().nullish(),
  /** Legacy form: only null is accepted. */
  additionalPermissions: z.null({ error: () => "must be null" }).optional(),
}).check((ctx) => {
  const sandbox = ctx.value;
  const hasProfile = sandbox.permissions !== undefined;
  const hasLegacy = sandbox.sandboxPolicy !== undefined;
  if (hasProfile === hasLegacy) {
    ctx.issues.push({
      code: "custom",
      input: sandbox,
      path: [],
      message: hasProfile
        ? "expected exactly one of permissions and sandboxPolicy, got both"
        : "expected exactly one of permissions and sandboxPolicy, got neither",
    });
  }
  if (hasLegacy && !(LEGACY_WINDOWS_LEVELS as readonly string[]).includes(sandbox.windowsSandboxLevel)) {
    ctx.issues.push({
      code: "custom",
      input: sandbox.windowsSandboxLevel,
      path: ["windowsSandboxLevel"],
      message: expectedOneOf(LEGACY_WINDOWS_LEVELS),
    });
  }
});
export type Sandbox = z.infer<typeof SandboxSchema>;

/**
 * Formats zod issues of the sandbox object as `<field>.<dotted.path>: <problem>`, joined by `; `,
 * in the lowercase style of the dispatcher's generic messages.
 */
export function formatSandboxIssues(
  issues: readonly z.core.$ZodIssue[],
  field: string,
  input: unknown,
): string {
  return issues.slice(0, 3).map((issue) => {
    const path = [field, ...issue.path.map(String)].join(".");
    return `${path}: ${describeIssue(issue, valueAt(input, issue.path))}`;
  }).join("; ");
}

/** The member of `input` at `path`, or undefined where the path leads nowhere. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key]; // Any object may be indexed; absent keys give undefined.
  }
  return value;
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (value === undefined && (issue.code === "invalid_type" || issue.code === "invalid_value")) {
    return "required";
  }
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}, got ${typeName(value)}`;
    case "invalid_value":
      return expectedOneOf(issue.values.map(String));
    case "too_small":
      return `must be at least ${String(issue.minimum)}`;
    case "too_big":
      return issue.origin === "array"
        ? `must have at most ${String(issue.maximum)} items`
        : `must be at most ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
