import { decodeBase64, ErrorCode, invalidParams, invalidRequest, RpcError } from "../protocol/mod.ts";
import type {
  ProcessListEntry,
  ProcessReadParams,
  ProcessReadResult,
  ProcessResizeParams,
  ProcessSignalParams,
  ProcessStartParams,
  ProcessStartResult,
  ProcessWriteParams,
  WriteStatus,
} from "../protocol/mod.ts";
import { buildChildEnv } from "../env_policy/mod.ts";
import type { RootMountStat, Runtime, SpawnPlan } from "../runtime/mod.ts";
import { ProcessTreeSession } from "../containment/mod.ts";
import type { Container, ProcessLimits, SessionContainment } from "../containment/mod.ts";
import type { LogChunk } from "./output_log.ts";
import type { ClosedOutput } from "./closed_output.ts";
import type { LiveOutput } from "./live_output.ts";
import type { InputAccount, InputBudget } from "./input_budget.ts";
import type { SharedBound } from "./shared_bound.ts";
import { INPUT_BUFFERS } from "./input_buffers.ts";
import { ManagedProcess } from "./managed_process.ts";
import type { SpawnTurns } from "./spawn_turns.ts";
import { StartAdmission } from "./start_admission.ts";
import { listRows } from "./list_rows.ts";
import type { RowsWait } from "./list_rows.ts";
import type { ProcessEvents } from "./managed_process.ts";
import { checkCwd, errnoCode, lookupProgram, programError } from "./program_lookup.ts";
import { signalNumber, validateStart } from "./start_checks.ts";

/** How long write and read wait for an unfinished start (PROTOCOL.md §5.3). */
export const START_WAIT_MS = 5_000;
/** The longest long poll (§5.6). */
export const MAX_WAIT_MS = 3_600_000;
/**
 * A `process/read` that selects at most this many bytes does not wait for a slot among the server's
 * large replies (§5.12): its reply is the log's base64 put together, no more than the output
 * notifications a connection may have unsent, and the slots are held by other clients' large
 * replies, up to a second each by a client that does not read, so clients that kept them busy held
 * another client's read of six bytes 8.5-12.9 s.
 */
export const SMALL_READ_BYTES = 1_048_576;
const DEFAULT_PTY_SIZE = { cols: 80, rows: 24 };

/** The program a sandboxed start runs, as it would run unsandboxed. */
export interface SandboxedTarget {
  readonly program: string;
  readonly args: readonly string[];
  readonly argv0: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** What is spawned instead: the launcher, in its own cwd and environment. */
export interface SandboxedLaunch {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** Turns a request's sandbox into a launch wrapper, or null to run it directly (§8.3). */
export interface SandboxPlanner {
  plan(
    sandbox: unknown,
    context: { cwd: string; networkOff: boolean },
  ): Promise<((target: SandboxedTarget) => SandboxedLaunch) | null>;
}

/** Limits and timers shared by every session's table. */
export interface ProcessTableOptions {
  readonly retainedOutputBytes: number;
  readonly processRetentionMs: number;
  readonly killGraceMs: number;
  readonly maxProcessesPerSession: number;
  /** `writeId`s each process remembers (§5.7; `MIN_WRITE_IDS_KEPT` at least). */
  readonly writeIdsKept: number;
  /** Counts running processes across the whole server. */
  readonly serverCounter: RunningCounter;
  /** Input held for the stdin of every process of the server (§5.7). */
  readonly inputBudget: InputBudget;
  /** The output that closed processes of every session keep (§3.9). */
  readonly closedOutput: ClosedOutput;
  /** Running processes' output across the server. */
  readonly liveOutput: LiveOutput;
  /** Answers the program lookup of a start on the server's thread where it can (`lookupProgram`). */
  readonly rootMountStat?: RootMountStat | null;
  /** Spawns of every session, in turns (`SpawnTurns`); without it each spawns at once. */
  readonly spawnTurns?: SpawnTurns;
  /** Long polls waiting across the server (`--max-waiting-polls`); without it, unbounded. */
  readonly waitingPolls?: SharedBound;
}

/** Processes closed between two hints to release memory (see `RunningCounter.closedOne`). */
const RELEASE_EVERY_CLOSES = 256;

/** A server-wide count of processes that have not closed (running, or exited with output still open). */
export class RunningCounter {
  readonly limit: number;
  count = 0;
  #closedSinceRelease = 0;
  constructor(limit: number) {
    this.limit = limit;
  }

  /**
   * Counts a closed process; true once every `RELEASE_EVERY_CLOSES`: each spawn leaves the runtime
   * some freed memory (pipes, streams, its own allocations) that it keeps until asked to let go.
   */
  closedOne(): boolean {
    this.#closedSinceRelease++;
    if (this.#closedSinceRelease < RELEASE_EVERY_CLOSES) return false;
    this.#closedSinceRelease = 0;
    return true;
  }
}

/** Receives a session's process events; the session forwards them to its connection. */
export interface ProcessSink {
  /** A chunk was appended; `bytes` are its bytes, valid only during the call. */
  output(processId: string, chunk: LogChunk, bytes: Uint8Array): void;
  exited(process: ManagedProcess, seq: number): void;
  closed(processId: string, seq: number): void;
  /** Null when output may flow, else a promise that resolves when it may. */
  flowReady(): Promise<void> | null;
  /** Whether output goes to a connection now. */
  delivering(): boolean;
}

/** The processes of one session, keyed by process id (PROTOCOL.md §5). */
export class ProcessTable {
  readonly #runtime: Runtime;
  readonly #options: ProcessTableOptions;
  readonly #planner: SandboxPlanner;
  readonly #sink: ProcessSink;
  readonly #serverEnv: Readonly<Record<string, string>>;
  readonly #processes = new Map<string, ManagedProcess>();
  readonly #retention = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #events: ProcessEvents;
  readonly #containment: SessionContainment;
  /** Processes of this session that have not closed. */
  #running = 0;
  /** This session's share of the server's unread input (§5.7). */
  readonly #input: InputAccount;
  /** Set by `terminateAll`: a start still spawning then is killed as soon as it runs. */
  #terminated = false;
  /** The containment's kill of everything left, from `terminateAll`. */
  #killing: Promise<void> = Promise.resolve();
  /** This session's starts doing their steps before the spawn, a few at a time (`StartAdmission`). */
  readonly #admission = new StartAdmission();

  /**
   * `containment` holds the session's processes; without one, each process is its group plus
   * the /proc walk, and limits are refused.
   */
  constructor(
    runtime: Runtime,
    deps: {
      options: ProcessTableOptions;
      planner: SandboxPlanner;
      sink: ProcessSink;
      serverEnv: Readonly<Record<string, string>>;
      containment?: SessionContainment;
    },
  ) {
    this.#runtime = runtime;
    this.#containment = deps.containment ?? new ProcessTreeSession(runtime, { watchdog: null });
    this.#options = deps.options;
    this.#input = deps.options.inputBudget.account(this);
    this.#planner = deps.planner;
    this.#sink = deps.sink;
    this.#serverEnv = deps.serverEnv;
    const sink = deps.sink;
    this.#events = {
      output: (process, chunk, bytes) => {
        this.#options.liveOutput.changed(this, process.log);
        sink.output(process.id, chunk, bytes);
      },
      exited: (process, seq) => sink.exited(process, seq),
      closed: (process, seq) => {
        // A process counts against the limits until it closes: after its exit a descendant may
        // keep its output, its pipes and its tree alive, and `cmd & exit` would otherwise start
        // any number of them.
        this.#onGone();
        this.#options.liveOutput.forget(this, process.log);
        if (!this.#terminated) this.#options.closedOutput.keep(this, process.log);
        sink.closed(process.id, seq);
        this.#scheduleRemoval(process);
        if (this.#options.serverCounter.closedOne()) runtime.releaseMemory(true);
      },
      flowReady: () => sink.flowReady(),
      delivering: () => sink.delivering(),
    };
  }

  /**
   * Validates and registers the id synchronously (so a pipelined request finds it), then spawns.
   */
  start(params: ProcessStartParams): Promise<ProcessStartResult> {
    const cwd = validateStart(params);
    const limits = this.#containment.resolveLimits(params.limits);
    const id = params.processId;
    if (this.#processes.has(id)) {
      throw invalidRequest("ProcessExists", `process ${id} already exists`);
    }
    if (this.#running >= this.#options.maxProcessesPerSession) {
      throw new RpcError(
        ErrorCode.LimitReached,
        "LimitReached",
        `too many running processes in this session: limit is ${this.#options.maxProcessesPerSession}`,
      );
    }
    const counter = this.#options.serverCounter;
    if (counter.count >= counter.limit) {
      throw new RpcError(
        ErrorCode.LimitReached,
        "LimitReached",
        `too many running processes: limit is ${counter.limit}`,
      );
    }
    const argv0 = params.argv[0] ?? "";
    const process = new ManagedProcess(this.#runtime, {
      processId: id,
      argv0,
      tty: params.tty,
      retainedOutputBytes: this.#options.retainedOutputBytes,
      killGraceMs: this.#options.killGraceMs,
      writeIdsKept: this.#options.writeIdsKept,
      inputBudget: this.#input,
    }, this.#events);
    this.#processes.set(id, process);
    this.#running++;
    counter.count++;
    return this.#spawn(process, params, { cwd, limits }).catch((error: unknown) => {
      this.#processes.delete(id);
      this.#onGone();
      process.failStart();
      throw error;
    });
  }

  async #spawn(
    process: ManagedProcess,
    params: ProcessStartParams,
    checked: { cwd: string; limits: ProcessLimits },
  ): Promise<ProcessStartResult> {
    const admitted = this.#admission.enter();
    if (admitted !== null) await admitted;
    try {
      return await this.#spawnAdmitted(process, params, checked);
    } finally {
      this.#admission.leave();
    }
  }

  async #spawnAdmitted(
    process: ManagedProcess,
    params: ProcessStartParams,
    { cwd, limits }: { cwd: string; limits: ProcessLimits },
  ): Promise<ProcessStartResult> {
    const wrap = await this.#planner.plan(params.sandbox ?? null, {
      cwd,
      networkOff: params.enforceManagedNetwork === true,
    });
    if (wrap !== null) process.markSandboxed();
    const env = buildChildEnv(this.#serverEnv, params.envPolicy, params.env);
    const argv0 = params.argv[0] ?? "";
    // A child spawned directly enters the cwd itself, and a missing or unusable one fails the
    // spawn: its cwd is checked only when something failed, to name the cwd in the error (it comes
    // first, as a relative program was looked up in it). A launcher runs in its own cwd, and a
    // terminal's start goes through a shell, so theirs is checked before.
    const cwdLater = wrap === null && !params.tty;
    if (!cwdLater) await checkCwd(cwd);
    let program: string;
    try {
      const path = env["PATH"] ?? this.#serverEnv["PATH"] ?? "";
      program = await lookupProgram(argv0, cwd, path, this.#options.rootMountStat ?? null);
    } catch (error) {
      if (cwdLater) await checkCwd(cwd);
      throw error;
    }
    const target = { program, args: params.argv.slice(1), argv0: params.arg0 ?? argv0, cwd, env };
    const timeoutMs = params.timeoutMs ?? null;
    const container = await this.#containment.create(limits);
    const stdin = params.tty || params.pipeStdin === true ? "pipe" : "null";
    try {
      const turn = this.#options.spawnTurns?.enter(this) ?? null;
      if (turn !== null) await turn;
      // Built just before the spawn, with nothing awaited in between: the launch carries the areas
      // a sandbox may write as they are now (`processPlanner`).
      const launch = wrap === null ? null : wrap(target);
      const plan: SpawnPlan = launch === null ? { ...target, stdin } : {
        program: launch.program,
        args: launch.args,
        argv0: launch.program,
        cwd: launch.cwd,
        env: launch.env,
        stdin,
      };
      // Without arg0, the program is what looking up argv[0] found, so a shell finds it again.
      const wrapped = container.wrap(plan, params.arg0 == null);
      if (params.tty) {
        const child = await this.#runtime.spawnPty(wrapped, params.size ?? DEFAULT_PTY_SIZE);
        process.attachPty(child, { timeoutMs, container });
      } else {
        process.attachPipes(await this.#runtime.spawn(wrapped), { timeoutMs, container });
      }
      if (this.#terminated) process.terminate();
    } catch (error) {
      await releaseQuietly(container);
      if (error instanceof RpcError) throw error;
      if (cwdLater) await checkCwd(cwd);
      throw programError(argv0, errnoCode(error) ?? "ENOENT", error);
    }
    return { processId: process.id, sandboxType: wrap === null ? "none" : "linuxSeccomp" };
  }

  /**
   * `process/read` (§5.6). A long poll waits for news first and for `turn` (the connection's turn
   * for a large reply) only then, so waiting polls do not hold up one another; a read that selects
   * more than `SMALL_READ_BYTES` then waits for `slot` (the server's) as well.
   */
  async read(
    params: ProcessReadParams,
    request: {
      readonly signal: AbortSignal;
      readonly turn?: () => Promise<void>;
      readonly slot?: () => Promise<void>;
    },
  ): Promise<ProcessReadResult> {
    const process = await this.#settled(params.processId);
    const afterSeq = params.afterSeq ?? 0;
    const maxBytes = params.maxBytes ?? null;
    const waitMs = Math.min(params.waitMs ?? 0, MAX_WAIT_MS);
    if (waitMs > 0 && !process.hasNewsAfter(afterSeq)) {
      // A cleared timer rather than AbortSignal.timeout: a poll woken early must not leave an
      // hour-long timer behind, and a streaming client wakes one poll per chunk.
      // Each waiting poll holds some kilobytes (its request, timer, signals and promises), and every
      // session may have --max-inflight-requests of them.
      const polls = this.#options.waitingPolls ?? null;
      polls?.take(this, 1);
      const timer = new AbortController();
      const timeout = setTimeout(() => timer.abort(), waitMs);
      const signal = request.signal;
      const deadline = AbortSignal.any([signal, timer.signal]);
      try {
        while (!deadline.aborted && !process.hasNewsAfter(afterSeq)) {
          await process.log.changed(deadline, afterSeq);
        }
      } finally {
        clearTimeout(timeout);
        polls?.give(this, 1);
      }
      if (signal.aborted) throw signal.reason;
    }
    await request.turn?.();
    // Nothing is awaited between the count and the read when the read is small: it selects what
    // was counted.
    if (
      request.slot !== undefined &&
      process.log.selectedBytes(afterSeq, maxBytes, SMALL_READ_BYTES) > SMALL_READ_BYTES
    ) {
      await request.slot();
    }
    return process.read(afterSeq, maxBytes);
  }

  /** `process/write` (§5.7). */
  async write(params: ProcessWriteParams): Promise<WriteStatus> {
    if (params.writeId === "") throw invalidParams("writeId must not be empty");
    let data: Uint8Array;
    try {
      data = decodeBase64(params.chunk, takeInput);
    } catch (error) {
      throw invalidParams(
        `invalid base64 in chunk: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const entry = this.#processes.get(params.processId);
    if (entry === undefined) return "unknownProcess";
    const writeId = params.writeId ?? null;
    if (entry.state !== "starting") return await this.#writeNow(params.processId, data, writeId);
    // Queue the write in arrival order behind the start; give up after START_WAIT_MS (§5.3).
    return await new Promise<WriteStatus>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        resolve("starting");
      }, START_WAIT_MS);
      entry.onceStarted(() => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#writeNow(params.processId, data, writeId).then(resolve, reject);
      });
    });
  }

  /**
   * Queues the bytes at once (so later operations come after them) and answers once written. A
   * write whose `writeId` was accepted, or belongs to a write that still waits (a client's retry
   * after a lost reply), writes nothing and gets that write's answer.
   */
  async #writeNow(processId: string, data: Uint8Array, writeId: string | null): Promise<WriteStatus> {
    const process = this.#current(processId);
    if (process === null) return "unknownProcess";
    if (writeId === null) return await process.write(data);
    return await process.writeIds.writeOnce(writeId, () => process.write(data));
  }

  /** `process/closeStdin` (§11.7). */
  closeStdin(processId: string): Promise<"accepted" | "stdinClosed" | "unknownProcess"> {
    return this.#ordered(processId, (process) => process === null ? "unknownProcess" : process.closeStdin());
  }

  /** `process/signal` (§5.8); unknown and closed processes answer `{}` too. */
  async signal(params: ProcessSignalParams): Promise<void> {
    const signal = signalNumber(params.signal);
    await this.#ordered(params.processId, (process) => process?.signal(signal));
  }

  /** `process/terminate` (§5.9). */
  terminate(processId: string): Promise<boolean> {
    return this.#ordered(processId, (process) => process === null ? false : process.terminate());
  }

  /** `process/resize` (§11.3). */
  resize(params: ProcessResizeParams): Promise<void> {
    return this.#ordered(params.processId, (process) => {
      if (process === null) throw invalidRequest("UnknownProcess", `unknown process id ${params.processId}`);
      if (!process.resize({ cols: params.cols, rows: params.rows })) {
        throw invalidRequest("NoTerminal", `process ${params.processId} has no terminal`);
      }
    });
  }

  /** Processes in the table, closed ones included until their retention ends. */
  get size(): number {
    return this.#processes.size;
  }

  /** `process/list` rows, oldest first (§11.8); past `large.heldBytes` of rows, they wait for `large`. */
  list(large?: RowsWait): Promise<ProcessListEntry[]> {
    return listRows(
      [...this.#processes.values()],
      (process) => this.#processes.get(process.id) === process,
      large,
    );
  }

  /**
   * Kills every process of this table with everything it started, including what outlived
   * processes that already closed (session expiry, shutdown); once all have closed, their
   * containers are removed.
   */
  terminateAll(): void {
    this.#terminated = true;
    this.#killing = this.#containment.killAll();
    for (const process of this.#processes.values()) {
      process.terminate();
      process.abandon();
    }
    for (const timer of this.#retention.values()) clearTimeout(timer);
    this.#retention.clear();
    this.#options.closedOutput.forgetAll(this);
    void this.drained().then(() => this.#containment.close());
  }

  /** Resolves when every process has closed (after `terminateAll`). */
  async drained(): Promise<void> {
    await Promise.all([...this.#processes.values()].map((process) => process.closedPromise));
    // What outlived closed processes may still be being found: a shutdown waits for its kill.
    await this.#killing;
  }

  /**
   * Throws, in this turn, the error that `read` rejects with for an id this table does not hold:
   * `process/read` answers an unknown id without a promise chain to reject through.
   */
  requireKnown(processId: string): void {
    if (!this.#processes.has(processId)) throw unknownProcess(processId);
  }

  async #settled(processId: string): Promise<ManagedProcess> {
    const entry = this.#processes.get(processId);
    if (entry === undefined) throw unknownProcess(processId);
    if (entry.state !== "starting") return entry;
    const outcome = await raceStart(entry);
    if (outcome === "timeout") {
      throw invalidRequest("ProcessStarting", `process id ${processId} is starting`);
    }
    const process = this.#processes.get(processId);
    if (process === undefined || process.state === "starting") throw unknownProcess(processId);
    return process;
  }

  /**
   * Runs `action` on the process (null when unknown or its start failed) once its start has
   * finished, in arrival order with the other ordered operations on it (§5.3).
   */
  #ordered<T>(processId: string, action: (process: ManagedProcess | null) => T | Promise<T>): Promise<T> {
    const entry = this.#processes.get(processId);
    if (entry === undefined || entry.state !== "starting") {
      try {
        return Promise.resolve(action(this.#current(processId)));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise<T>((resolve, reject) => {
      entry.onceStarted(() => {
        try {
          resolve(action(this.#current(processId)));
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** The started process with this id, or null. */
  #current(processId: string): ManagedProcess | null {
    const process = this.#processes.get(processId);
    return process === undefined || process.state === "starting" ? null : process;
  }

  /** The process closed, or its start failed: it no longer counts against the limits. */
  #onGone(): void {
    this.#running--;
    this.#options.serverCounter.count--;
  }

  #scheduleRemoval(process: ManagedProcess): void {
    const timer = setTimeout(() => {
      this.#retention.delete(process.id);
      this.#options.closedOutput.forget(this, process.log);
      if (this.#processes.get(process.id) === process) this.#processes.delete(process.id);
      void process.release();
    }, this.#options.processRetentionMs);
    this.#retention.set(process.id, timer);
  }
}

/** Removes the container of a start that failed; its failure is the start's error. */
async function releaseQuietly(container: Container): Promise<void> {
  try {
    await container.release();
  } catch {
    // The start's own error is the one to report.
  }
}

async function raceStart(process: ManagedProcess): Promise<"done" | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), START_WAIT_MS);
  });
  try {
    return await Promise.race([process.started.then(() => "done" as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Memory for a write's bytes from the server's pool, given back once the child's stdin has them. */
function takeInput(byteLength: number): Uint8Array | null {
  return INPUT_BUFFERS.take(byteLength);
}

/** The error of a request that names a process the table does not hold (§5.6). */
function unknownProcess(processId: string): RpcError {
  return invalidRequest("UnknownProcess", `unknown process id ${processId}`);
}
