/**
 * One process's cgroups: the unified directory it is killed and measured by, and on a hybrid host
 * the v1 memory and pids directories that carry its limits.
 */
import type { Runtime, SpawnPlan } from "../runtime/mod.ts";
import { errnoOf } from "../fs/mod.ts";
import type { CgroupHost } from "./cgroup_host.ts";
import { isPopulated, killCgroup, readKeyed, readProcs, removeDir, writeControl } from "./cgroup_files.ts";
import type { Container, ProcessLimits, ProcessUsage } from "./containment.ts";
import { CpuBudget } from "./cpu_budget.ts";
import type { OomWatch } from "./oom_watch.ts";
import { joinCommand } from "./join_command.ts";
import { signalGroup } from "./signal_group.ts";
import { readKeyedNow, readNumberNow } from "./usage_files.ts";
import type { Reads } from "./usage_files.ts";
import type { JoinTools } from "./join_command.ts";

const SIGKILL = 9;

/** What every container of the server shares. */
export interface TreeContext {
  readonly host: CgroupHost;
  readonly runtime: Runtime;
  readonly tools: JoinTools;
  /** CPUs a tree can use at once (for the CPU budget). */
  readonly cpus: number;
  /** Reports a cleanup that failed; it never fails a request. */
  readonly onError: (message: string, error: unknown) => void;
  /** Sees the OOM kills of v1 memory cgroups, which end one process of a tree, not the tree. */
  readonly oomWatch: OomWatch;
}

/** The directories of one cgroup (a session or a process) in each hierarchy. */
export interface Dirs {
  /** The unified directory: membership, kill, CPU time, and the v2 controllers. */
  readonly unified: string;
  /** The v1 memory directory, when memory comes from v1. */
  readonly memory: string | null;
  /** The v1 pids directory, when pids come from v1. */
  readonly pids: string | null;
}

/** Removes a process's cgroups (each must be empty). */
export async function removeDirs(dirs: Dirs): Promise<void> {
  for (const dir of [dirs.unified, dirs.memory, dirs.pids]) {
    if (dir !== null) await removeDir(dir);
  }
}

/** Writes the limits into the new cgroups. */
export async function applyLimits(host: CgroupHost, dirs: Dirs, limits: ProcessLimits): Promise<void> {
  if (limits.memoryBytes !== null) {
    const bytes = String(limits.memoryBytes);
    if (dirs.memory === null) {
      await writeControl(`${dirs.unified}/memory.max`, bytes);
      // Without these the tree would swap instead of being stopped, and the kernel would kill one
      // process of it where the limit ends the whole process.
      await writeOptional(`${dirs.unified}/memory.swap.max`, "0");
      await writeControl(`${dirs.unified}/memory.oom.group`, "1");
    } else {
      await writeControl(`${dirs.memory}/memory.limit_in_bytes`, bytes);
      await writeOptional(`${dirs.memory}/memory.memsw.limit_in_bytes`, bytes);
    }
  }
  if (limits.pids !== null) {
    const place = host.controllers.get("pids");
    const dir = place?.version === 1 ? dirs.pids : dirs.unified;
    if (dir !== null) await writeControl(`${dir}/pids.max`, String(limits.pids));
  }
}

/** Writes a control file the kernel may not offer (swap accounting off, say). */
async function writeOptional(path: string, value: string): Promise<void> {
  try {
    await writeControl(path, value);
  } catch (error) {
    if (errnoOf(error) !== "ENOENT") throw error;
  }
}

/** The tail of the removals of settled cgroups, made one after another (`#settle`). */
let removals: Promise<void> = Promise.resolve();

/** One process's cgroups. */
export class CgroupContainer implements Container {
  readonly #context: TreeContext;
  readonly #dirs: Dirs;
  readonly #limits: ProcessLimits;
  #pid: number | null = null;
  #leaderReaped = false;
  #budget: CpuBudget | null = null;
  #cpuFailure: string | null = null;
  /** Stops watching a v1 memory cgroup for OOM kills (`OomWatch`). */
  #stopOomWatch: (() => void) | null = null;
  #closed = false;
  /**
   * The figures of a closed process whose tree has ended, read once its cgroup held no process and
   * kept from then on: its cgroup is removed then (see `#settle`).
   */
  #final: ProcessUsage | null = null;
  /** The removal `#settle` started; a failed one ends settling (the figures are read live). */
  #removal: Promise<void> | null = null;
  /** Every directory of the container is gone. */
  #removed = false;

  constructor(context: TreeContext, dirs: Dirs, limits: ProcessLimits) {
    this.#context = context;
    this.#dirs = dirs;
    this.#limits = limits;
  }

  wrap(plan: SpawnPlan, argv0Found: boolean): SpawnPlan {
    const joins = [this.#dirs.unified, this.#dirs.memory, this.#dirs.pids]
      .filter((dir): dir is string => dir !== null)
      .map((dir) => `${dir}/cgroup.procs`);
    return joinCommand(plan, joins, { tools: this.#context.tools, argv0Found });
  }

  started(pid: number, onLimit: (failure: string) => void): void {
    this.#pid = pid;
    const bytes = this.#limits.memoryBytes;
    if (bytes !== null && this.#dirs.memory !== null) {
      // v1 kills the largest process only; the rest of the tree goes here, as v2's group kill would.
      this.#stopOomWatch = this.#context.oomWatch.watch(this.#dirs.memory, () => {
        onLimit(`memory limit of ${bytes} bytes exceeded`);
        this.signalAll(SIGKILL);
      });
    }
    const seconds = this.#limits.cpuSeconds;
    if (seconds === null) return;
    this.#budget = new CpuBudget(seconds, {
      cpus: this.#context.cpus,
      used: () => this.#cpuSeconds(),
      exceeded: () => {
        this.#cpuFailure = `cpu time limit of ${seconds} seconds exceeded`;
        onLimit(this.#cpuFailure);
        this.signalAll(SIGKILL);
      },
    });
  }

  signalAll(signal: number): void {
    void this.#signalAll(signal).catch((error: unknown) => {
      this.#context.onError("signalling a cgroup failed", error);
    });
  }

  async #signalAll(signal: number): Promise<void> {
    if (signal === SIGKILL) {
      // The group reaches the child in the instant before it has joined its cgroup. Once the child
      // has been reaped it had joined, and everything it left is in the cgroup, while its group's
      // number may name another process's group by now.
      if (this.#pid !== null && !this.#leaderReaped) {
        signalGroup(this.#context.runtime, this.#pid, signal, false);
      }
      await killCgroup(this.#dirs.unified);
      return;
    }
    // Only SIGKILL has a whole-cgroup form; a member listed here is alive, so its pid is its own.
    const members = await readProcs(this.#dirs.unified);
    // None yet: the child has not joined (its join command runs first), so its group is all. None
    // after the child was reaped: nothing of it is left.
    if (members.length === 0 && this.#pid !== null && !this.#leaderReaped) {
      signalGroup(this.#context.runtime, this.#pid, signal, false);
    }
    for (const pid of members) this.#kill(pid, signal);
  }

  #kill(target: number, signal: number): void {
    try {
      this.#context.runtime.kill(target, signal);
    } catch {
      // It exited since (ESRCH): nothing left to signal.
    }
  }

  leaderReaped(): void {
    this.#leaderReaped = true;
  }

  async limitFailure(): Promise<string | null> {
    if (this.#cpuFailure !== null) return this.#cpuFailure;
    const { memoryBytes, pids } = this.#limits;
    if (memoryBytes !== null) {
      const kills = this.#dirs.memory === null
        ? (await readKeyed(`${this.#dirs.unified}/memory.events`)).get("oom_kill")
        : (await readKeyed(`${this.#dirs.memory}/memory.oom_control`)).get("oom_kill");
      if ((kills ?? 0) > 0) return `memory limit of ${memoryBytes} bytes exceeded`;
    }
    if (pids !== null) {
      const dir = this.#dirs.pids ?? this.#dirs.unified;
      if (((await readKeyed(`${dir}/pids.events`)).get("max") ?? 0) > 0) {
        return `pids limit of ${pids} reached`;
      }
    }
    return null;
  }

  usage(): ProcessUsage {
    if (this.#final === null && this.#closed && this.#removal === null) this.#settle();
    return this.#final ?? this.#read({ complete: true });
  }

  // Nothing is read here: a start→close round trip pays no read for a list that may never come.
  closed(): void {
    this.#budget?.stop();
    if (this.#stopOomWatch !== null && this.#dirs.memory !== null) {
      this.#stopOomWatch();
      this.#stopOomWatch = null;
      // A kill the watch has not read yet: the shell whose child it killed may have exited since,
      // leaving background jobs that hold no output in the cgroup; they go as on v2.
      const kills = readKeyedNow(`${this.#dirs.memory}/memory.oom_control`).get("oom_kill") ?? 0;
      if (kills > 0) this.signalAll(SIGKILL);
    }
    this.#closed = true;
  }

  async release(): Promise<void> {
    this.#budget?.stop();
    this.#stopOomWatch?.();
    await this.#removal;
    if (this.#removed) return;
    // Descendants that outlive the process keep its cgroup until the session ends.
    if (await isPopulated(this.#dirs.unified)) return;
    try {
      await removeDirs(this.#dirs);
    } catch (error) {
      this.#context.onError("removing a process cgroup failed", error);
    }
  }

  /** Reads the tree's figures now (see `usage_files.ts`); `reads` learns whether all were read. */
  #read(reads: Reads): ProcessUsage {
    const memory = this.#context.host.controllers.get("memory");
    const peakMemoryBytes = memory === undefined
      ? null
      : this.#dirs.memory === null
      ? readNumberNow(`${this.#dirs.unified}/memory.peak`, reads)
      : readNumberNow(`${this.#dirs.memory}/memory.max_usage_in_bytes`, reads);
    const micros = readKeyedNow(`${this.#dirs.unified}/cpu.stat`, reads).get("usage_usec");
    return { peakMemoryBytes, cpuSeconds: micros === undefined ? null : micros / 1e6 };
  }

  /**
   * At a list: keeps the figures of a closed process whose cgroup holds no process, and removes the
   * cgroup, so that the next long `process/list` of closed processes reads nothing. They can no
   * longer change: every process of the tree is in the unified cgroup, the process's own join was
   * over before it ran, and nothing else enters it but a privileged write to its `cgroup.procs`.
   * The removal settles even that: the kernel removes only a cgroup that holds no process and no
   * cgroup, so a removal that fails (EBUSY) means something is in it, and the figures are read
   * live again until the retention ends; a removed cgroup is charged nothing more (not even pages
   * the tree left in tmpfs, swapped back in). An exiting task is charged the last microseconds of
   * its exit after it left the count; those are not in the figures. While descendants live,
   * nothing is kept: each list reads the figures, and the first that finds the tree ended keeps
   * them.
   */
  #settle(): void {
    if (this.#final !== null || this.#removal !== null) return;
    const reads = { complete: true };
    if (readKeyedNow(`${this.#dirs.unified}/cgroup.events`, reads).get("populated") !== 0) return;
    const usage = this.#read(reads);
    // A read that failed (descriptors short, say) is tried again at the next list.
    if (!reads.complete || usage.cpuSeconds === null) return;
    this.#final = usage;
    // One removal at a time across the server: a first list of a thousand closed processes would
    // otherwise put a thousand of them in the thread pool at once.
    this.#removal = removals = removals.then(() => this.#removeSettled());
  }

  async #removeSettled(): Promise<void> {
    try {
      await removeDir(this.#dirs.unified);
    } catch (error) {
      this.#final = null;
      // EBUSY: a process entered it since, or the tree made cgroups of its own inside it.
      if (errnoOf(error) !== "EBUSY") this.#context.onError("removing a process cgroup failed", error);
      return;
    }
    try {
      for (const dir of [this.#dirs.memory, this.#dirs.pids]) {
        if (dir !== null) await removeDir(dir);
      }
      this.#removed = true;
    } catch (error) {
      this.#context.onError("removing a process cgroup failed", error);
    }
  }

  async #cpuSeconds(): Promise<number | null> {
    const micros = (await readKeyed(`${this.#dirs.unified}/cpu.stat`)).get("usage_usec");
    return micros === undefined ? null : micros / 1e6;
  }
}
