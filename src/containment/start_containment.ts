/**
 * Chooses and sets up the containment of this host once, before the server serves: cgroups when
 * the server can create them and a child provably lands inside, else the process-tree fallback;
 * in both cases a watchdog for the server's own death.
 */
import { availableParallelism } from "node:os";
import type { ContainmentInfo, ProcessLimitsParam } from "../protocol/mod.ts";
import type { Runtime } from "../runtime/mod.ts";
import { removeTree, untilEmpty, writeControl } from "./cgroup_files.ts";
import { setUpCgroupHost } from "./cgroup_host.ts";
import type { CgroupHost } from "./cgroup_host.ts";
import { findCgroupPlaces } from "./cgroup_mounts.ts";
import type { TreeContext } from "./cgroup_container.ts";
import { CgroupSession } from "./cgroup_session.ts";
import type { Containment, ProcessLimits, SessionContainment } from "./containment.ts";
import { processStartTime } from "./descendants.ts";
import { limitText, START_STEP_LIMIT_MS, withinStepLimit } from "./step_limit.ts";
import { findJoinTools } from "./join_command.ts";
import { installJoinHelper, sealedJoinHelper } from "./join_helper.ts";
import type { JoinTools } from "./join_command.ts";
import { defaultLimitsInfo, NO_LIMITS, resolveLimits } from "./limits.ts";
import { OomWatch } from "./oom_watch.ts";
import { ProcessTreeSession } from "./process_tree.ts";
import { Watchdog } from "./watchdog.ts";
import type { WatchdogDuty } from "./watchdog.ts";

/** How long set-up waits for a dead server's killed processes to leave its cgroups. */
const SWEEP_WAIT_MS = 2_000;
/**
 * How long shutdown waits for the last killed processes to leave: the sessions have drained by
 * then, and shutdown has 5 s in all (PROTOCOL.md §1.8).
 */
const CLOSE_WAIT_MS = 1_000;

/** What containment needs from the server. */
export interface ContainmentOptions {
  /** The server's default limits (`--default-memory-bytes` …); null members are unset. */
  readonly defaults: ProcessLimits;
  /** Reports a failure that must not stop the server (a cleanup, the watchdog). */
  readonly onError: (message: string, error: unknown) => void;
  /** Reports a fact worth a log line (predecessors swept). */
  readonly onInfo: (message: string, fields: Record<string, unknown>) => void;
  /**
   * A directory only this server writes, for the join helper where it cannot be a sealed memfd;
   * null runs joins through dash there.
   */
  readonly stateDir?: string | null;
  /**
   * How long each probe child (the join helper's run, the cgroup probe) may take before its
   * process group is killed and the step counts as failed (default `START_STEP_LIMIT_MS`).
   */
  readonly stepLimitMs?: number;
  /** Fires when the server exits during start-up: a running probe's group is killed at once. */
  readonly abort?: AbortSignal;
  /** The shell joins, probes and the watchdog run (default: the one `findJoinTools` picks). */
  readonly shell?: string;
}

/** Sets up containment for a server running on `runtime`. */
export async function startContainment(runtime: Runtime, options: ContainmentOptions): Promise<Containment> {
  const found = await findJoinTools();
  const shellTools = options.shell === undefined ? found : { ...found, shell: options.shell };
  const helper = await workingHelper(runtime, options, shellTools.shell);
  const tools = helper === null ? shellTools : { ...shellTools, helper };
  const tree = await setUpTree(runtime, tools, options);
  const duty: WatchdogDuty = "problem" in tree
    ? { kind: "groups" }
    : { kind: "cgroup", roots: tree.context.host.roots };
  let watchdog: Watchdog | null = null;
  try {
    watchdog = await Watchdog.start(runtime, {
      shell: tools.shell,
      duty,
      onError: (error) => options.onError("the watchdog failed", error),
    });
  } catch (error) {
    options.onError("starting the watchdog failed", error);
  }
  const defaultLimits = defaultLimitsInfo(options.defaults);
  if ("problem" in tree) {
    const info: ContainmentInfo = {
      backend: "processTree",
      layout: null,
      limits: { memoryBytes: false, pids: false, cpuSeconds: false },
      defaultLimits,
      usage: { peakMemory: false, cpuTime: false },
      watchdog: watchdog !== null,
      reason: tree.problem,
    };
    return new ProcessTreeContainment(info, { runtime, watchdog, helper, defaults: options.defaults });
  }
  const { host } = tree.context;
  const info: ContainmentInfo = {
    backend: "cgroup",
    layout: host.layout,
    limits: {
      memoryBytes: host.controllers.has("memory"),
      pids: host.controllers.has("pids"),
      cpuSeconds: true,
    },
    defaultLimits,
    usage: { peakMemory: tree.peakMemory, cpuTime: true },
    watchdog: watchdog !== null,
  };
  if (host.missing.length > 0) info.reason = host.missing.join("; ");
  return new CgroupContainment(info, { context: tree.context, defaults: options.defaults });
}

/**
 * Makes the join helper, a sealed memfd or else a file in the state directory, and runs it once;
 * null where there is none or neither runs here (`vm.memfd_noexec=2`, no `/proc`, a state
 * directory on a noexec mount, say): joins then go through dash.
 */
async function workingHelper(
  runtime: Runtime,
  options: ContainmentOptions,
  shell: string,
): Promise<string | null> {
  const dir = options.stateDir ?? null;
  const sealed = await sealedJoinHelper(runtime.name);
  if (sealed !== null && await helperRuns(runtime, options, { helper: sealed, shell })) return sealed;
  if (dir === null) return null;
  const helper = await installJoinHelper(dir).catch((error: unknown) => {
    options.onInfo("the join helper does not run here", {
      error: error instanceof Error ? error.message : String(error),
    });
    return null;
  });
  return helper !== null && await helperRuns(runtime, options, { helper, shell }) ? helper : null;
}

/** Whether `helper` runs `shell` here; why not is logged. */
async function helperRuns(
  runtime: Runtime,
  options: ContainmentOptions,
  { helper, shell }: { helper: string; shell: string },
): Promise<boolean> {
  try {
    const child = await runtime.spawn({
      program: helper,
      args: ["--", shell, shell, "-c", "exit 0"],
      argv0: helper,
      cwd: "/",
      env: {},
      stdin: "null",
      ownSession: true,
    });
    const limitMs = options.stepLimitMs ?? START_STEP_LIMIT_MS;
    const done = await withinStepLimit(
      runtime,
      child,
      Promise.all([child.exited, child.stdout.cancel(), child.stderr.cancel()]),
      limitMs,
      options.abort,
    );
    if (done === null) {
      options.onError(
        `start-up step timed out: the join helper's trial run did not finish within ${
          limitText(limitMs)
        }; its process group was killed`,
        { step: "join helper trial", helper, limitMs },
      );
      return false;
    }
    const [status] = done;
    if (status.code === 0) return true;
    options.onInfo("the join helper does not run here", { helper, status });
  } catch (error) {
    options.onInfo("the join helper does not run here", {
      helper,
      error: error instanceof Error ? error.message : String(error),
    });
  }
  return false;
}

/** The server's cgroup tree, proven by a probe child, or why there is none. */
async function setUpTree(
  runtime: Runtime,
  tools: JoinTools,
  options: ContainmentOptions,
): Promise<{ context: TreeContext; peakMemory: boolean } | { problem: string }> {
  const pid = runtime.pid();
  const startTime = await processStartTime(pid);
  if (startTime === null) return { problem: "this process's start time is unreadable" };
  const signal = AbortSignal.timeout(SWEEP_WAIT_MS);
  const host = await setUpCgroupHost(await findCgroupPlaces(), { pid, startTime }, signal);
  if ("problem" in host) return host;
  if (host.swept > 0) options.onInfo("removed cgroups of dead servers", { count: host.swept });
  const context: TreeContext = {
    host,
    runtime,
    tools,
    cpus: cpuCount(),
    onError: options.onError,
    oomWatch: new OomWatch(),
  };
  const proof = await probe(context, options);
  if ("problem" in proof) await removeRoots(host);
  return "problem" in proof ? proof : { context, peakMemory: proof.peakMemory };
}

/**
 * Runs a child through the join command and checks that it entered its cgroups (the command
 * exits 126 when a join fails): creating a cgroup is not enough where moving into it is refused.
 * Also finds out whether the kernel records peak memory (`memory.peak` came with Linux 5.19).
 */
async function probe(
  context: TreeContext,
  options: ContainmentOptions,
): Promise<{ peakMemory: boolean } | { problem: string }> {
  const session = new CgroupSession(context, "probe", () => NO_LIMITS);
  try {
    const container = await session.create(NO_LIMITS);
    const shell = context.tools.shell;
    const child = await context.runtime.spawn(container.wrap({
      program: shell,
      args: ["-c", ":"],
      argv0: shell,
      cwd: "/",
      env: {},
      stdin: "null",
    }, true));
    const limitMs = options.stepLimitMs ?? START_STEP_LIMIT_MS;
    const done = await withinStepLimit(
      context.runtime,
      child,
      Promise.all([new Response(child.stderr).text(), child.exited, child.stdout.cancel()]),
      limitMs,
      options.abort,
    );
    if (done === null) {
      const problem = `the cgroup probe child did not finish within ${limitText(limitMs)}`;
      options.onError(`start-up step timed out: ${problem}; its process group was killed`, {
        step: "cgroup probe",
        limitMs,
      });
      return { problem };
    }
    const [stderr, status] = done;
    const usage = container.usage();
    await container.release();
    if (status.code === 0) return { peakMemory: usage.peakMemoryBytes !== null };
    return {
      problem: `a child could not enter its cgroup: ${stderr.trim() || `exit ${JSON.stringify(status)}`}`,
    };
  } catch (error) {
    return {
      problem: `a child could not enter its cgroup: ${
        error instanceof Error ? error.message : String(error)
      }`,
    };
  } finally {
    await session.killAll();
    await session.close();
  }
}

async function removeRoots(host: CgroupHost): Promise<void> {
  for (const root of host.roots) await removeTree(root).catch(() => {});
}

function cpuCount(): number {
  try {
    return availableParallelism();
  } catch {
    return 1;
  }
}

/** Containment by cgroups. */
class CgroupContainment implements Containment {
  readonly info: ContainmentInfo;
  readonly #context: TreeContext;
  readonly #defaults: ProcessLimits;
  #sessions = 0;

  constructor(info: ContainmentInfo, deps: { context: TreeContext; defaults: ProcessLimits }) {
    this.info = info;
    this.#context = deps.context;
    this.#defaults = deps.defaults;
  }

  resolveLimits(request: ProcessLimitsParam | null | undefined): ProcessLimits {
    return resolveLimits(request, this.#defaults, this.info);
  }

  openSession(): SessionContainment {
    return new CgroupSession(this.#context, `s${++this.#sessions}`, (request) => this.resolveLimits(request));
  }

  async close(): Promise<void> {
    const { root } = this.#context.host;
    try {
      await writeControl(`${root}/cgroup.kill`, "1");
      await untilEmpty(root, AbortSignal.timeout(CLOSE_WAIT_MS));
      await removeRoots(this.#context.host);
    } catch (error) {
      this.#context.onError("removing the server's cgroups failed", error);
    }
  }
}

/** Containment by process groups and the /proc walk. */
class ProcessTreeContainment implements Containment {
  readonly info: ContainmentInfo;
  readonly #runtime: Runtime;
  readonly #watchdog: Watchdog | null;
  readonly #helper: string | null;
  readonly #defaults: ProcessLimits;

  constructor(
    info: ContainmentInfo,
    deps: { runtime: Runtime; watchdog: Watchdog | null; helper: string | null; defaults: ProcessLimits },
  ) {
    this.info = info;
    this.#runtime = deps.runtime;
    this.#watchdog = deps.watchdog;
    this.#helper = deps.helper;
    this.#defaults = deps.defaults;
  }

  resolveLimits(request: ProcessLimitsParam | null | undefined): ProcessLimits {
    return resolveLimits(request, this.#defaults, this.info);
  }

  openSession(): SessionContainment {
    return new ProcessTreeSession(this.#runtime, {
      watchdog: this.#watchdog,
      resolve: (request) => this.resolveLimits(request),
      helper: this.#helper,
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
