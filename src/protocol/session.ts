import { z } from "zod";

/** `initialize` params (PROTOCOL.md §3.2). */
export const InitializeParamsSchema = z.object({
  /** Free text, used in logs only. */
  clientName: z.string(),
  /** Resume a detached session (§3.7). */
  resumeSessionId: z.string().nullish(),
  /** Asks for file bytes and process output in binary frames (§11.12); default false. */
  binaryFrames: z.boolean().nullish(),
});
/** See `InitializeParamsSchema`. */
export type InitializeParams = z.infer<typeof InitializeParamsSchema>;

/** The 15 capability flags Codex 0.169 defines; all false here (§3.3, §10.3). */
export const CODEX_CAPABILITIES = {
  networkProxyLaunch: false,
  networkProxyReviewDomains: false,
  credentialMasking: false,
  credentialMaskingCustomProviders: false,
  capabilityDiscoverySandbox: false,
  fsWatchMissing: false,
  capabilityDiscoveryV2: false,
  environmentConfigRead: false,
  httpHeaderEnvVars: false,
  sandboxedFileStreaming: false,
  fileWriteStreaming: false,
  shellSnapshotV2: false,
  windowsMxc: false,
  linuxRootWritePreservesDevices: false,
  linuxApprovedRootWritePreservesRestrictions: false,
} as const satisfies Record<string, false>;

const int = z.number().int().nonnegative();

/** `environmentInfo.extensions.containment`. */
export const ContainmentInfoSchema = z.object({
  /**
   * `cgroup`: each process and its descendants live in a cgroup of their own, which setsid, double
   * forks and reparenting cannot leave, and are killed as a whole. `processTree`: the process group
   * plus a walk of /proc for descendants that left it (§11.9).
   */
  backend: z.enum(["cgroup", "processTree"]),
  /** Which cgroup layout serves: `unified` (cgroup v2 only) or `hybrid` (v2 for the tree, v1 controllers). */
  layout: z.enum(["unified", "hybrid"]).nullable(),
  /** Which members of `process/start.limits` this host enforces; the others are refused with -32602. */
  limits: z.object({ memoryBytes: z.boolean(), pids: z.boolean(), cpuSeconds: z.boolean() }),
  /** The limits every process gets unless its request sets the member. */
  defaultLimits: z.object({
    memoryBytes: int.optional(),
    pids: int.optional(),
    cpuSeconds: z.number().positive().optional(),
  }),
  /** Whether `process/list` reports `peakMemoryBytes` and `cpuSeconds`. */
  usage: z.object({ peakMemory: z.boolean(), cpuTime: z.boolean() }),
  /** Whether a watchdog kills what the server started when the server dies, SIGKILL included. */
  watchdog: z.boolean(),
  /** Why something above is unavailable. */
  reason: z.string().optional(),
});
/** See `ContainmentInfoSchema`. */
export type ContainmentInfo = z.infer<typeof ContainmentInfoSchema>;

/** `environmentInfo.extensions` (§11.1). */
export const ExtensionsSchema = z.object({
  server: z.literal("exec-server"),
  version: z.string(),
  runtime: z.enum(["bun", "deno"]),
  methods: z.array(z.string()),
  signals: z.array(z.string()),
  numericSignals: z.boolean(),
  processStart: z.object({ size: z.boolean(), timeoutMs: z.boolean(), limits: z.boolean() }),
  readDroppedBytes: z.boolean(),
  limits: z.object({
    retainedOutputBytes: int,
    sessionTtlMs: int,
    processRetentionMs: int,
    maxMessageBytes: int,
    // Absent from servers before 2026-12-06.
    maxReplyBytes: int.optional(),
    maxReadFileBytes: int,
    maxFileHandles: z.literal(128),
  }),
  sandbox: z.object({
    available: z.boolean(),
    backend: z.enum(["native", "bubblewrap", "none"]),
    layers: z.object({
      userNamespace: z.boolean(),
      mountNamespace: z.boolean(),
      // Absent from servers before 2026-12-06.
      ipcNamespace: z.boolean().optional(),
      seccomp: z.boolean(),
      landlockAbi: int,
      noNewPrivs: z.boolean(),
      bubblewrap: z.boolean(),
    }),
    networkRestriction: z.boolean(),
    /** How sandboxes are made: by a root server, or in an unprivileged user namespace. */
    privilege: z.enum(["root", "userNamespace"]),
    reason: z.string().optional(),
  }),
  /** How the processes of a session are held together, limited and measured (docs/spec_deltas.md). */
  containment: ContainmentInfoSchema,
  /**
   * Whether a WebSocket client may ask for binary frames in `initialize` (§11.12). Optional here
   * so that a client reads servers from before it.
   */
  binaryFrames: z.boolean().optional(),
});
/** See `ExtensionsSchema`. */
export type Extensions = z.infer<typeof ExtensionsSchema>;

/** `EnvironmentInfo` (§3.3). */
export const EnvironmentInfoSchema = z.object({
  shell: z.object({ name: z.string(), path: z.string() }),
  executorVersion: z.string(),
  providerId: z.string(),
  cwd: z.string(),
  userHomeDir: z.string().optional(),
  platformOs: z.enum(["linux", "macos"]),
  prependPathDirs: z.array(z.string()),
  temporaryDirectories: z.array(z.string()),
  tempDir: z.string(),
  capabilities: z.record(z.string(), z.boolean()),
  extensions: ExtensionsSchema,
});
/** See `EnvironmentInfoSchema`. */
export type EnvironmentInfo = z.infer<typeof EnvironmentInfoSchema>;

/** `initialize` result. */
export const InitializeResultSchema = z.object({
  sessionId: z.string(),
  environmentInfo: EnvironmentInfoSchema,
  /** Present when the client asked for binary frames: whether this connection uses them (§11.12). */
  binaryFrames: z.boolean().optional(),
});
/** See `InitializeResultSchema`. */
export type InitializeResult = z.infer<typeof InitializeResultSchema>;
