/**
 * What the process layer sees of containment: a container per process (its cgroup, or its
 * process group plus a /proc walk), grouped per session, with limits and usage.
 */
import type { ContainmentInfo } from "../protocol/mod.ts";
import type { ProcessLimitsParam } from "../protocol/mod.ts";
import type { SpawnPlan } from "../runtime/mod.ts";

/** The limits of one process after the server's defaults are applied; null = none. */
export interface ProcessLimits {
  readonly memoryBytes: number | null;
  readonly pids: number | null;
  readonly cpuSeconds: number | null;
}

/** What a process tree has used; null where the host does not measure it. */
export interface ProcessUsage {
  readonly peakMemoryBytes: number | null;
  readonly cpuSeconds: number | null;
}

/** The container of one process and everything it starts. */
export interface Container {
  /**
   * The plan to spawn instead of `plan`, so that the child is inside before it runs.
   * `argv0Found`: `plan.program` is what looking up `plan.argv0` gave (PROTOCOL.md §5.2).
   */
  wrap(plan: SpawnPlan, argv0Found: boolean): SpawnPlan;
  /** The child runs as `pid`; `onLimit` gets the failure text if a limit ends it while it runs. */
  started(pid: number, onLimit: (failure: string) => void): void;
  /**
   * Sends `signal` to every process of the container, descendants that left the process group
   * included (PROTOCOL.md §11.9).
   */
  signalAll(signal: number): void;
  /** The child itself has exited and been reaped: from now on its pid may name another process. */
  leaderReaped(): void;
  /** After an unsuccessful exit: the limit that ended the process, or null. */
  limitFailure(): Promise<string | null>;
  /**
   * What the tree has used so far, read synchronously (cgroupfs is kernel memory); once the
   * process has closed and its tree has ended, kept from the first such read on, when the figures
   * can no longer change (the container is then removed).
   */
  usage(): ProcessUsage;
  /** The process has closed: its limits are no longer watched; its figures stay readable. */
  closed(): void;
  /**
   * The process is gone from its session (retention over, or its start failed): remove the
   * container, or leave it to the session while descendants still live in it.
   */
  release(): Promise<void>;
}

/** The containers of one session. */
export interface SessionContainment {
  /** Applies the defaults; throws -32602 (Unenforceable) for a limit this host cannot enforce. */
  resolveLimits(request: ProcessLimitsParam | null | undefined): ProcessLimits;
  /** Creates the container for a process about to spawn. */
  create(limits: ProcessLimits): Promise<Container>;
  /**
   * Kills every process of the session, descendants of closed processes included; resolves once
   * the signals are sent (finding some may take a look through /proc).
   */
  killAll(): Promise<void>;
  /** After `killAll`, once every process has closed: removes what is left. */
  close(): Promise<void>;
}

/** The server's containment, set up once before it serves. */
export interface Containment {
  /** `environmentInfo.extensions.containment`. */
  readonly info: ContainmentInfo;
  /** Applies the defaults; throws -32602 (Unenforceable) for a limit this host cannot enforce. */
  resolveLimits(request: ProcessLimitsParam | null | undefined): ProcessLimits;
  openSession(): SessionContainment;
  /** Kills whatever is left and removes the server's cgroups (shutdown). */
  close(): Promise<void>;
}
