/**
 * Containment where the host gives no cgroup: the process group, plus the descendants that left
 * it found by walking /proc (PROTOCOL.md §11.9). Limits are refused, usage is not measured; the
 * watchdog, when there is one, kills the recorded process groups if the server dies.
 */
import type { ProcessLimitsParam } from "../protocol/mod.ts";
import type { Runtime, SpawnPlan } from "../runtime/mod.ts";
import type { Container, ProcessLimits, ProcessUsage, SessionContainment } from "./containment.ts";
import { childStartTime, findDescendants, findSandboxMembers, signalProcesses } from "./descendants.ts";
import { NO_LIMITS, resolveLimits } from "./limits.ts";
import { numberReused, signalGroup } from "./signal_group.ts";
import type { Watchdog } from "./watchdog.ts";

const UNMEASURED: ProcessUsage = { peakMemoryBytes: null, cpuSeconds: null };

/** What a process tree can enforce: nothing. */
const NOTHING_ENFORCED = {
  limits: { memoryBytes: false, pids: false, cpuSeconds: false },
  reason: "processes are not contained",
};

/** Past this many launches kept, those whose sandboxes have emptied are dropped. */
const LAUNCHES_KEPT = 256;

/** The sessions of a process-tree host: nothing to create, nothing to remove. */
export class ProcessTreeSession implements SessionContainment {
  readonly #runtime: Runtime;
  /**
   * The children's launches (`pid` and start time): a sandboxed child's processes stay in its
   * sandbox, and whatever of them outlived it (a daemon that left the session and lost its parent)
   * is killed with the session, as a cgroup's would be.
   */
  readonly #launches = new Map<string, Launch>();
  #pruning = false;
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
    const container = new ProcessTreeContainer(this.#runtime, this.#watchdog, this.#helper, (launch) => {
      this.#launches.set(`${launch.pid}:${launch.start}`, launch);
      if (this.#launches.size > LAUNCHES_KEPT) this.#prune();
    });
    return Promise.resolve(container);
  }

  /**
   * Each process's own terminate kills its tree; what outlived a process that has closed is found
   * only by its sandbox, when it had one.
   */
  async killAll(): Promise<void> {
    const launches = [...this.#launches.values()];
    this.#launches.clear();
    const kill = (target: number, number: number): void => this.#runtime.kill(target, number);
    await Promise.all(launches.map((launch) =>
      findSandboxMembers(launch.pid, launch.start)
        .then((members) => signalProcesses(members, SIGKILL, kill))
        .catch(() => {})
    ));
  }

  /** Drops the launches whose sandboxes hold no process any more (or that had none). */
  #prune(): void {
    if (this.#pruning) return;
    this.#pruning = true;
    const launches = [...this.#launches.entries()];
    void Promise.all(launches.map(async ([key, launch]) => {
      if ((await findSandboxMembers(launch.pid, launch.start)).length === 0) this.#launches.delete(key);
    })).catch(() => {}).finally(() => {
      this.#pruning = false;
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A child as its launcher names its sandbox: its pid and its start time. */
interface Launch {
  readonly pid: number;
  readonly start: string;
}

const SIGKILL = 9;

/** One process group and the descendants that left it. */
class ProcessTreeContainer implements Container {
  readonly #runtime: Runtime;
  readonly #watchdog: Watchdog | null;
  readonly #helper: string | null;
  readonly #launched: (launch: Launch) => void;
  #pid: number | null = null;
  /** The child's start time, read as soon as it is spawned (the launcher reads it much later). */
  #start: Promise<string | null> | null = null;
  #leaderReaped = false;

  constructor(
    runtime: Runtime,
    watchdog: Watchdog | null,
    helper: string | null,
    launched: (launch: Launch) => void,
  ) {
    this.#runtime = runtime;
    this.#watchdog = watchdog;
    this.#helper = helper;
    this.#launched = launched;
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
    const time = childStartTime(pid);
    this.#start = Promise.resolve(time);
    if (time !== null) this.#launched({ pid, start: time });
    const watchdog = this.#watchdog;
    if (watchdog === null) return;
    watchdog.track(pid);
    // Lets the watchdog tell this child from a later process that carries the same number.
    watchdog.noteStart(pid, time ?? "0");
  }

  /**
   * The process table is read before the group dies, while the parent links of setsid-ed
   * children still lead here. A sandboxed child's processes are found by their sandbox as well:
   * one that left the session and whose parent ended (a daemon's double fork) is in no tree of
   * the child's any more, but in no other mount namespace either.
   */
  signalAll(signal: number): void {
    const pid = this.#pid;
    if (pid === null) return;
    // Once the child is reaped, a process carrying its number is someone else's, and so are the
    // children, group and session that the number names (see `numberReused`).
    // The child's sandbox is named by its number and its start time, which no later carrier of
    // the number shares: its processes are signalled whoever carries the number now. A sandboxed
    // daemon that cycled the pid counter so that a process of its own took the number at the
    // child's exit kept the whole sandbox alive before.
    const reused = (): boolean => this.#leaderReaped && numberReused(this.#runtime, pid);
    const kill = (target: number, number: number): void => this.#runtime.kill(target, number);
    const start = this.#start ?? Promise.resolve(null);
    void Promise.all([
      reused() ? [] : findDescendants(pid),
      start.then((time) => time === null ? [] : findSandboxMembers(pid, time)),
    ])
      .then(([descendants, members]) => {
        if (reused()) return signalProcesses(members, signal, kill);
        this.#signalGroup(pid, signal);
        return signalProcesses([...descendants, ...members], signal, kill);
      })
      .catch(() => {
        if (!reused()) this.#signalGroup(pid, signal);
      });
  }

  leaderReaped(): void {
    this.#leaderReaped = true;
  }

  limitFailure(): Promise<string | null> {
    return Promise.resolve(null);
  }

  usage(): ProcessUsage {
    return UNMEASURED;
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
