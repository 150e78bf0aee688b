import { fileURLToPath } from "node:url";
import { BackendExecService, WireFileSystem } from "../client/mod.ts";
import type { Environment, EnvironmentCapabilities, ExecService, FileSystem, FsCall } from "../client/mod.ts";
import { DEFAULT_MAX_READ_FILE_BYTES, FS_HANDLERS, FsService, removeTree } from "../fs/mod.ts";
import type { FsConnection, FsMethodContext } from "../fs/mod.ts";
import { METHODS } from "../protocol/mod.ts";
import type { Sandbox } from "../protocol/mod.ts";
import {
  CLOSED_LOGS_KEPT,
  ClosedOutput,
  DEFAULT_MAX_UNREAD_INPUT_BYTES,
  InputBudget,
  LIVE_LOGS_KEPT,
  LiveOutput,
  MIN_WRITE_IDS_KEPT,
  RunningCounter,
} from "../process/mod.ts";
import { bindHandlers } from "../rpc/mod.ts";
import { detectRuntime } from "../runtime/mod.ts";
import type { ProgramImage, Runtime } from "../runtime/mod.ts";
import { createStateDir, setUpSandbox } from "../sandbox/mod.ts";
import type { SandboxSetup } from "../sandbox/mod.ts";
import { dispatchLocally } from "./local_dispatch.ts";
import { LocalExecBackend } from "./local_exec_backend.ts";

/** exec-server's own CLI, whose `sandbox-exec` and `fs-worker` modes sandboxing starts. */
const MOD_PATH = fileURLToPath(new URL("../../mod.ts", import.meta.url).href);
const FS_ROUTES = bindHandlers(METHODS, FS_HANDLERS);
/** How long `close` waits for killed processes to close (the server's shutdown waits as long). */
const CLOSE_WAIT_MS = 3_000;
/** The one "session" of a Local environment: its sandbox workers are keyed by it. */
const LOCAL_SESSION = "local";

/** Options of `LocalEnvironment.create`; the defaults are the server's (PROTOCOL.md §2.8, §3.10). */
export interface LocalEnvironmentOptions {
  /** Default: the runtime this process runs on. */
  readonly runtime?: Runtime;
  /**
   * What runs the exec-server CLI for the sandbox launcher and fs worker (default: this package's
   * `mod.ts` under this runtime).
   */
  readonly self?: ProgramImage;
  readonly retainedOutputBytes?: number;
  readonly processRetentionMs?: number;
  readonly killGraceMs?: number;
  readonly maxProcesses?: number;
  readonly maxReadFileBytes?: number;
}

/**
 * This machine as an environment: the server's process table and file system, in process, with
 * the same handlers, the same sandboxing (launcher and fs workers) and the same errors as a
 * Remote environment on an exec-server here.
 *
 * @example
 * ```ts
 * await using env = await LocalEnvironment.create();
 * await using proc = await env.exec.start({ argv: ["ls"], cwd: "/srv/app" });
 * ```
 */
export class LocalEnvironment implements Environment {
  readonly kind = "local";
  readonly capabilities: EnvironmentCapabilities = { exec: true, fs: true };
  readonly exec: ExecService;
  readonly fs: FileSystem;
  readonly #backend: LocalExecBackend;
  readonly #fsService: FsService;
  readonly #sandbox: SandboxSetup;
  readonly #fsConnection: FsConnection;
  readonly #call: FsCall;
  #closed: Promise<void> | null = null;

  private constructor(backend: LocalExecBackend, fsService: FsService, sandbox: SandboxSetup) {
    this.#backend = backend;
    this.#fsService = fsService;
    this.#sandbox = sandbox;
    const connection = fsService.openConnection(LOCAL_SESSION);
    this.#fsConnection = connection;
    this.#call = (method, params, options = {}) =>
      dispatchLocally(FS_ROUTES, {
        method,
        params,
        options,
        context: (signal): FsMethodContext => ({ fs: connection, signal }),
      });
    this.exec = new BackendExecService(backend);
    this.fs = new WireFileSystem(this.#call, null);
  }

  /** Detects the runtime and the host's sandbox layers, then builds the environment. */
  static async create(options: LocalEnvironmentOptions = {}): Promise<LocalEnvironment> {
    const runtime = options.runtime ?? await detectRuntime();
    const self = options.self ?? { executable: runtime.selfImage().executable, script: MOD_PATH };
    const stateDir = await createStateDir(runtime.env(), removeTree);
    const sandbox = await setUpSandbox(runtime, { self, stateDir });
    const serverEnv = runtime.env();
    const maxProcesses = options.maxProcesses ?? 1024;
    const backend = new LocalExecBackend(runtime, {
      options: {
        retainedOutputBytes: options.retainedOutputBytes ?? 1024 * 1024,
        processRetentionMs: options.processRetentionMs ?? 30_000,
        killGraceMs: options.killGraceMs ?? 2_000,
        maxProcessesPerSession: maxProcesses,
        writeIdsKept: MIN_WRITE_IDS_KEPT,
        serverCounter: new RunningCounter(maxProcesses),
        inputBudget: new InputBudget(DEFAULT_MAX_UNREAD_INPUT_BYTES),
        closedOutput: new ClosedOutput(CLOSED_LOGS_KEPT * (options.retainedOutputBytes ?? 1024 * 1024)),
        liveOutput: new LiveOutput(LIVE_LOGS_KEPT * (options.retainedOutputBytes ?? 1024 * 1024)),
      },
      planner: sandbox.planner,
      serverEnv,
    });
    const fsService = new FsService(runtime, {
      maxReadFileBytes: options.maxReadFileBytes ?? DEFAULT_MAX_READ_FILE_BYTES,
      serverCwd: runtime.cwd(),
      serverEnv,
      hostFeatures: sandbox.features,
      ...sandbox.protection,
      workerLaunch: (policy) => sandbox.workerLaunch(policy),
    });
    return new LocalEnvironment(backend, fsService, sandbox);
  }

  /** fs requests confined by `sandbox`, in this machine's sandbox workers. */
  sandboxedFs(sandbox: Sandbox): FileSystem {
    return new WireFileSystem(this.#call, sandbox);
  }

  /** Kills every process group of the environment and stops its sandbox workers. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#backend.table.terminateAll();
      // As the server's shutdown does: a descendant that escaped the kill and keeps a pipe open
      // must not hold the caller forever.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#backend.table.drained(),
        new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS)),
      ]);
      clearTimeout(timer);
      await this.#fsConnection.close();
      await this.#fsService.close();
      await this.#sandbox.close();
    })();
    return this.#closed;
  }

  /** See `close`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
