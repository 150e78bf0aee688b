/**
 * Containment where the host gives no cgroup: the process group, plus the descendants that left
 * it found by walking /proc (PROTOCOL.md §11.9). Limits are refused, usage is not measured; the
 * watchdog, when there is one, kills the recorded process groups if the server dies.
 */
import type { ProcessLimitsParam } from "../protocol/mod.ts";
import type { Runtime, SpawnPlan } from "../runtime/mod.ts";
import type { Container, ProcessLimits, ProcessUsage, SessionContainment } from "./containment.ts";
import { findDescendants, processStartTime, signalProcesses } from "./descendants.ts";
import { NO_LIMITS, resolveLimits } from "./limits.ts";
import { numberReused, signalGroup } from "./signal_group.ts";
import type { Watchdog } from "./watchdog.ts";

const UNMEASURED: ProcessUsage = { peakMemoryBytes: null, cpuSeconds: null };

/** What a process tree can enforce: nothing. */
const NOTHING_ENFORCED = {
  limits: { memoryBytes: false, pids: false, cpuSeconds: false },
  reason: "processes are not contained",
};

/** The sessions of a process-tree host: nothing to create, nothing to remove. */
export class ProcessTreeSession implements SessionContainment {
  readonly #runtime: Runtime;
  readonly #watchdog: Watchdog | null;
  readonly #resolve: (request: ProcessLimitsParam | null | undefined) => ProcessLimits;
  readonly #helper: string | null;

  /**
   * Without `resolve`, every limit is refused. With the join `helper`, a child starts through it
   * (joining nothing), which makes it a session leader at less cost than setsid(1) on Deno.
   */
  constructor(
    runtime: Runtime,
    options: {
      watchdog: Watchdog | null;
      resolve?: (request: ProcessLimitsParam | null | undefined) => ProcessLimits;
      helper?: string | null;
    },
  ) {
    this.#runtime = runtime;
    this.#watchdog = options.watchdog;
    this.#resolve = options.resolve ?? ((request) => resolveLimits(request, NO_LIMITS, NOTHING_ENFORCED));
    this.#helper = options.helper ?? null;
  }

  resolveLimits(request: ProcessLimitsParam | null | undefined): ProcessLimits {
    return this.#resolve(request);
  }

  create(): Promise<Container> {
    return Promise.resolve(new ProcessTreeContainer(this.#runtime, this.#watchdog, this.#helper));
  }

  /** Each process's own terminate kills its tree; nothing outlives them that is known here. */
  killAll(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** One process group and the descendants that left it. */
class ProcessTreeContainer implements Container {
  readonly #runtime: Runtime;
  readonly #watchdog: Watchdog | null;
  readonly #helper: string | null;
  #pid: number | null = null;
  #leaderReaped = false;

  constructor(runtime: Runtime, watchdog: Watchdog | null, helper: string | null) {
    this.#runtime = runtime;
    this.#watchdog = watchdog;
    this.#helper = helper;
  }

  wrap(plan: SpawnPlan): SpawnPlan {
    if (this.#helper === null) return plan;
    return {
      ...plan,
      program: this.#helper,
      args: ["--", plan.program, plan.argv0, ...plan.args],
      argv0: this.#helper,
      ownSession: true,
    };
  }

  started(pid: number): void {
    this.#pid = pid;
    const watchdog = this.#watchdog;
    if (watchdog === null) return;
    watchdog.track(pid);
    // Lets the watchdog tell this child from a later process that carries the same number.
    void processStartTime(pid).then((start) => watchdog.noteStart(pid, start ?? "0"));
  }

  /**
   * The process table is read before the group dies, while the parent links of setsid-ed
   * children still lead here.
   */
  signalAll(signal: number): void {
    const pid = this.#pid;
    if (pid === null) return;
    // Once the child is reaped, a process carrying its number is someone else's, and so are the
    // children, group and session that the number names (see `numberReused`).
    const reused = (): boolean => this.#leaderReaped && numberReused(this.#runtime, pid);
    if (reused()) return;
    const kill = (target: number, number: number): void => this.#runtime.kill(target, number);
    void findDescendants(pid)
      .then((descendants) => {
        if (reused()) return;
        this.#signalGroup(pid, signal);
        return signalProcesses(descendants, signal, kill);
      })
      .catch(() => this.#signalGroup(pid, signal));
  }

  leaderReaped(): void {
    this.#leaderReaped = true;
  }

  limitFailure(): Promise<string | null> {
    return Promise.resolve(null);
  }

  usage(): Promise<ProcessUsage> {
    return Promise.resolve(UNMEASURED);
  }

  closed(): void {}

  /** The group stays on the watchdog's list until here: background jobs may still hold it. */
  release(): Promise<void> {
    if (this.#pid !== null) this.#watchdog?.untrack(this.#pid);
    return Promise.resolve();
  }

  #signalGroup(pid: number, signal: number): void {
    signalGroup(this.#runtime, pid, signal, this.#leaderReaped);
  }
}
