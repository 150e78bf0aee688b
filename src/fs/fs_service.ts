import { encodeBase64, ErrorCode, parsePathUri, RpcError } from "../protocol/mod.ts";
import type {
  FsReadBlockResult,
  FsReadDirectoryResult,
  FsReadFileResult,
  FsWalkResult,
} from "../protocol/mod.ts";
import { FRAME_HEADROOM, withKnownJson } from "../rpc/mod.ts";
import type { FramePayload } from "../rpc/mod.ts";
import { FS_PARAMS_SCHEMAS } from "../protocol/mod.ts";
import type { FsMethod } from "../protocol/mod.ts";
import type { FileRanges, RootMountStat, Runtime } from "../runtime/mod.ts";
import { confineRootLinks, nativeBackendProblem, resolveSandbox } from "../sandbox/mod.ts";
import type { HostFeatures, Policy, SandboxContext, WrittenAreas } from "../sandbox/mod.ts";
import type { z } from "zod";
import { DirectFileSystem } from "./direct_file_system.ts";
import { FileHandleTable, HandleCount } from "./file_handle_table.ts";
import type { FileSystem, FsResults } from "../protocol/mod.ts";
import { FsWorker } from "./fs_worker.ts";
import type { LargeWait } from "./large_wait.ts";
import type { WorkerLaunch } from "./fs_worker.ts";
import { DEFAULT_MAX_REPLY_BYTES } from "./reply_budget.ts";
import { SandboxedFileSystem } from "./sandboxed_file_system.ts";
import { LargeListing, SMALL_DIRECTORY_BYTES, SMALL_LISTING_BYTES } from "./small_listing.ts";
import { SpareLaunchers } from "./spare_launchers.ts";

/** Options of the `FsService`. */
export interface FsServiceOptions {
  /** `--max-read-file-bytes`. */
  readonly maxReadFileBytes: number;
  /**
   * `--max-reply-bytes`: listings stop at it, in this process and in workers (PROTOCOL.md §2.8).
   * `DEFAULT_MAX_REPLY_BYTES`, the server's default, when absent.
   */
  readonly maxReplyBytes?: number;
  /** The context cwd of fs sandboxes (PROTOCOL.md §8.2). */
  readonly serverCwd: string;
  /** The server's environment (for `$TMPDIR` in policies). */
  readonly serverEnv: Readonly<Record<string, string>>;
  readonly hostFeatures: HostFeatures;
  /** The server's own and secret files, protected in every policy (see `SandboxContext`). */
  readonly ownFiles?: readonly string[];
  readonly secretFiles?: readonly string[];
  readonly writtenAreas?: WrittenAreas;
  readonly stateDirBases?: readonly string[];
  /** How a worker for `policy` is started: the sandbox launcher around `fs-worker`. */
  readonly workerLaunch: (policy: Policy) => WorkerLaunch | Promise<WorkerLaunch>;
  /** Receives reports of workers that died unexpectedly. */
  readonly log?: (message: string, detail: unknown) => void;
  /** File handles open across the server's connections (default `MAX_SERVER_FILE_HANDLES`). */
  readonly maxFileHandles?: number;
  /** Worker processes the whole server keeps running (default `MAX_RUNNING_WORKERS`). */
  readonly maxRunningWorkers?: number;
  /**
   * Keep one worker launcher started ahead of need (`SpareLaunchers`) where the host can sandbox:
   * a worker start then skips the launcher's own start.
   */
  readonly spareLauncher?: boolean;
  /**
   * A synchronous `lstat` for paths on a local root mount (`openRootMountStat`): direct
   * `fs/getMetadata` answers from it without a thread-pool round trip where it can.
   */
  readonly rootMountStat?: RootMountStat | null;
  /** The kernel's calls for `fs/copy` (`openFileRanges`), where the runtime runs them off its thread. */
  readonly fileRanges?: FileRanges | null;
}

/** Any policy: a spare launcher is started with what every worker launch shares. */
const SPARE_SHAPE_POLICY: Policy = { readable: [], writable: [], denied: [], readOnly: [], network: false };

/** The params of each fs method as the dispatcher hands them over (parsed by `FS_PARAMS_SCHEMAS`). */
export type FsParams = { [M in FsMethod]: z.infer<(typeof FS_PARAMS_SCHEMAS)[M]> };

function isFsMethod(method: string): method is FsMethod {
  return Object.hasOwn(FS_PARAMS_SCHEMAS, method);
}

/**
 * The fs methods of a server: direct in this process, or sandboxed in one long-lived worker per
 * (session, policy), which the service owns and stops with the session; at most
 * `MAX_RUNNING_WORKERS_PER_SESSION` of a session's worker processes run at once.
 */
export class FsService {
  readonly #runtime: Runtime;
  readonly #options: FsServiceOptions;
  readonly #context: SandboxContext;
  /** Workers by session id, then by policy key, the most recently used last. */
  readonly #workers = new Map<string, Map<string, FsWorker>>();
  /** Every session's workers, the most recently used last. */
  readonly #recent = new Set<FsWorker>();
  /** Resolved when a worker has answered its last request in flight. */
  #idle = Promise.withResolvers<void>();
  readonly #spares: SpareLaunchers | null;
  readonly #maxReplyBytes: number;
  #connections = 0;
  /** Open file handles across this server's connections. */
  readonly #handles: HandleCount;

  constructor(runtime: Runtime, options: FsServiceOptions) {
    this.#runtime = runtime;
    this.#options = options;
    this.#maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    this.#handles = new HandleCount(options.maxFileHandles);
    // Only where the launcher can run at all: elsewhere every sandboxed request is refused.
    this.#spares = options.spareLauncher === true && nativeBackendProblem(options.hostFeatures) === null
      ? new SpareLaunchers(runtime)
      : null;
    if (this.#spares !== null) {
      const spares = this.#spares;
      // The images may still be building; the first spare starts once they exist.
      void Promise.resolve()
        .then(() => options.workerLaunch(SPARE_SHAPE_POLICY))
        .then((launch) => spares.prepare(launch), (error: unknown) => {
          options.log?.("starting a spare fs worker launcher failed", error);
        });
    }
    this.#context = {
      cwd: options.serverCwd,
      env: options.serverEnv,
      network: "forceOff",
      ...(options.ownFiles === undefined ? {} : { ownFiles: options.ownFiles }),
      ...(options.secretFiles === undefined ? {} : { secretFiles: options.secretFiles }),
      ...(options.writtenAreas === undefined ? {} : { writtenAreas: options.writtenAreas }),
      ...(options.stateDirBases === undefined ? {} : { stateDirBases: options.stateDirBases }),
    };
  }

  /** Opens the fs side of one connection of `sessionId`; its handles die with it. */
  openConnection(sessionId: string): FsConnection {
    const scope = `c${++this.#connections}`;
    return new FsConnection({
      scope,
      handles: this.#handles,
      maxReadFileBytes: this.#options.maxReadFileBytes,
      maxReplyBytes: this.#maxReplyBytes,
      rootMountStat: this.#options.rootMountStat ?? null,
      fileRanges: this.#options.fileRanges ?? null,
      route: async (sandbox) => {
        const resolution = await resolveSandbox(sandbox, this.#context, this.#options.hostFeatures);
        if (resolution.kind === "none") return null;
        return {
          key: resolution.key,
          worker: await this.#workerFor(sessionId, resolution.key, resolution.policy),
        };
      },
    });
  }

  /** Stops the workers of a session (it expired or was closed). */
  async closeSession(sessionId: string): Promise<void> {
    const workers = this.#workers.get(sessionId);
    this.#workers.delete(sessionId);
    if (workers === undefined) return;
    for (const worker of workers.values()) this.#recent.delete(worker);
    await Promise.all([...workers.values()].map((worker) => worker.stop()));
    this.#settled();
  }

  /** The pids of a session's running worker processes, by policy key (for diagnostics and tests). */
  async workerPids(sessionId: string): Promise<Map<string, number>> {
    const pids = new Map<string, number>();
    for (const [key, worker] of this.#workers.get(sessionId) ?? []) {
      const pid = await worker.pid();
      if (pid !== null) pids.set(key, pid);
    }
    return pids;
  }

  /** Stops every worker, and the spare launcher. */
  async close(): Promise<void> {
    this.#spares?.close();
    await Promise.all([...this.#workers.keys()].map((sessionId) => this.closeSession(sessionId)));
  }

  /**
   * The worker of `key` in the session, made when there is room for one more running worker (the
   * least recently used idle ones are retired to make it). A request that finds the bounds taken by
   * workers still serving requests waits until one of them is idle. Workers that hold open file
   * handles, which nothing retires, take at most `pinnedShare` of each bound (`#checkPin`), so one
   * of the rest is always idle or serving; only a worker whose process ended within the same turn
   * and is not yet forgotten can leave none, and then the request is refused rather than left
   * waiting for a change nothing would announce.
   */
  async #workerFor(sessionId: string, key: string, policy: Policy): Promise<FsWorker> {
    for (;;) {
      let workers = this.#workers.get(sessionId);
      if (workers === undefined) {
        workers = new Map();
        this.#workers.set(sessionId, workers);
      }
      const found = workers.get(key);
      // A retired worker starts its process again for this request: it needs room like a new one.
      if (found?.occupying === true) return this.#touch(workers, key, found);
      const crowded = this.#crowded(workers);
      if (crowded === null && found !== undefined) return this.#touch(workers, key, found);
      if (crowded === null) {
        const log = this.#options.log;
        const worker = new FsWorker(this.#runtime, {
          // Every start of its process, the first and each after a retirement or a crash, looks the
          // policy's roots up again: a root that has become a planted link since is refused then.
          launch: async () =>
            this.#options.workerLaunch(await confineRootLinks(policy, this.#context.writtenAreas)),
          maxReplyBytes: this.#maxReplyBytes,
          maxReadFileBytes: this.#options.maxReadFileBytes,
          ...(log === undefined ? {} : { onFailure: log }),
          ...(this.#spares === null ? {} : { spares: this.#spares }),
          onIdle: () => this.#settled(),
          beforePin: () => this.#checkPin(sessionId),
        });
        return this.#touch(workers, key, worker);
      }
      if (!crowded.some((worker) => worker.busy)) {
        throw new RpcError(
          ErrorCode.LimitReached,
          "LimitReached",
          `sandbox worker limit reached: ${MAX_RUNNING_WORKERS_PER_SESSION} per session and ${
            this.#options.maxRunningWorkers ?? MAX_RUNNING_WORKERS
          } in all run at once, and none of them can end now`,
        );
      }
      await this.#idle.promise;
    }
  }

  /** Marks `worker` the most recently used of its session and of the server. */
  #touch(workers: Map<string, FsWorker>, key: string, worker: FsWorker): FsWorker {
    workers.delete(key);
    workers.set(key, worker);
    this.#recent.delete(worker);
    this.#recent.add(worker);
    return worker;
  }

  /**
   * Null when one more worker may run, after retiring the least recently used idle ones that stand
   * in the way; else the workers that fill the bound that is still full.
   */
  #crowded(workers: Map<string, FsWorker>): FsWorker[] | null {
    for (
      const [scope, bound] of [[workers.values(), MAX_RUNNING_WORKERS_PER_SESSION], [
        this.#recent.values(),
        this.#options.maxRunningWorkers ?? MAX_RUNNING_WORKERS,
      ]] as const
    ) {
      const occupying = [...scope].filter((worker) => worker.occupying);
      let running = occupying.length;
      for (const worker of occupying) {
        if (running < bound) break;
        if (worker.retireIfIdle()) running--;
      }
      if (running >= bound) return occupying.filter((worker) => worker.occupying);
    }
    return null;
  }

  /**
   * Throws -32001 when one more worker of the session may not hold open file handles: such
   * workers take at most `pinnedShare` of each bound, so the rest always serve requests that need
   * no handle, retired when idle or answering in turn.
   */
  #checkPin(sessionId: string): void {
    const bound = this.#options.maxRunningWorkers ?? MAX_RUNNING_WORKERS;
    refuseAtShare(
      this.#workers.get(sessionId)?.values() ?? [],
      MAX_PINNED_WORKERS_PER_SESSION,
      `a session's ${MAX_RUNNING_WORKERS_PER_SESSION}`,
    );
    refuseAtShare(this.#recent, pinnedShare(bound), `the server's ${bound}`);
  }

  /** A worker has answered its last request in flight: requests waiting for room look again. */
  #settled(): void {
    const waiting = this.#idle;
    this.#idle = Promise.withResolvers<void>();
    waiting.resolve();
  }
}

/**
 * Worker processes one session keeps running. Each policy of a session has its own worker (40–50
 * MiB each here), so a client that gives every request a fresh root would otherwise grow the
 * server's memory until the session ends.
 */
export const MAX_RUNNING_WORKERS_PER_SESSION = 8;

/** Worker processes the whole server keeps running, over every session. */
export const MAX_RUNNING_WORKERS = 64;

/**
 * Workers of a bound of `bound` that may hold open file handles: three quarters. A worker with a
 * handle cannot be retired, so the rest, a quarter, are kept for requests that need none; of the
 * server's 64, the 16 kept run two sessions' full 8 at once, and the 48 take eight sessions
 * holding handles under 6 policies each.
 */
export function pinnedShare(bound: number): number {
  return bound - Math.ceil(bound / 4);
}

/** Workers of one session that may hold open file handles: 6 of its 8. */
export const MAX_PINNED_WORKERS_PER_SESSION = pinnedShare(MAX_RUNNING_WORKERS_PER_SESSION);

/** Throws -32001 naming the share when `workers` (`bound` of them at most) hold `share` pinned ones. */
function refuseAtShare(workers: Iterable<FsWorker>, share: number, bound: string): void {
  let pinned = 0;
  for (const worker of workers) if (worker.pinned) pinned++;
  if (pinned < share) return;
  throw new RpcError(
    ErrorCode.LimitReached,
    "LimitReached",
    `sandbox worker limit reached: at most ${share} of ${bound} workers hold open file handles`,
  );
}

/** Where a sandboxed request goes: the policy's key and its worker; null runs it directly. */
type Route = (sandbox: unknown) => Promise<{ key: string; worker: FsWorker } | null>;

type Handlers = {
  [M in FsMethod]: (
    connection: FsConnection,
    params: FsParams[M],
    signal: AbortSignal,
  ) => Promise<FsResults[M]>;
};

/** Each method's params schema, seen as producing that method's params. */
const PARAMS_SCHEMAS: { [M in FsMethod]: z.ZodType<FsParams[M]> } = FS_PARAMS_SCHEMAS;

/** `params` without `sandbox`. */
function withoutSandbox<T extends { sandbox?: unknown }>(params: T): Omit<T, "sandbox"> {
  const { sandbox: _sandbox, ...rest } = params;
  return rest;
}

/** A readFile result with its JSON text: base64 has no character that JSON escapes. */
function readFileWithJson(result: FsReadFileResult): FsReadFileResult {
  return withKnownJson(result, `{"dataBase64":"${result.dataBase64}"}`);
}

/**
 * A readBlock result (up to 1 MiB of bytes) made by this process, with its JSON text: base64 has no
 * character that JSON escapes. V8's `JSON.stringify` scans it for them, 1.6 ms per MiB under Deno,
 * against a few string joins here.
 */
function readBlockWithJson(result: FsReadBlockResult): FsReadBlockResult {
  const { chunk, eof } = result;
  return withKnownJson({ chunk, eof }, `{"chunk":"${chunk}","eof":${eof}}`);
}

/** The fs side of one connection: path parsing, sandbox routing and the connection's handles. */
export class FsConnection {
  readonly #scope: string;
  readonly #maxReadFileBytes: number;
  readonly #route: Route;
  readonly #direct: DirectFileSystem;
  /** The listings made without a slot (`readDirectorySmall`, `walkSmall`); it has no handles. */
  readonly #smallDirect: DirectFileSystem;
  readonly #maxReplyBytes: number;
  /** Sandboxed views of this connection, by policy key. */
  readonly #views = new Map<string, SandboxedFileSystem>();
  /** Which file system owns each open handle; the 128-handle limit spans all of them. */
  readonly #owners: FileHandleTable<FileSystem>;

  constructor(
    options: {
      scope: string;
      maxReadFileBytes: number;
      maxReplyBytes: number;
      route: Route;
      /** The server's count of open handles (`MAX_SERVER_FILE_HANDLES`); none: this connection's alone. */
      handles?: HandleCount;
      /** A synchronous `lstat` on the local root mount (`DirectFileSystemOptions.rootMountStat`). */
      rootMountStat?: RootMountStat | null;
      /** The kernel's calls for `fs/copy` (`DirectFileSystemOptions.fileRanges`). */
      fileRanges?: FileRanges | null;
    },
  ) {
    this.#owners = new FileHandleTable<FileSystem>(options.handles ?? null);
    this.#scope = options.scope;
    this.#maxReadFileBytes = options.maxReadFileBytes;
    this.#route = options.route;
    this.#direct = new DirectFileSystem({
      maxReadFileBytes: options.maxReadFileBytes,
      maxReplyBytes: options.maxReplyBytes,
      rootMountStat: options.rootMountStat ?? null,
      fileRanges: options.fileRanges ?? null,
    });
    this.#maxReplyBytes = options.maxReplyBytes;
    this.#smallDirect = new DirectFileSystem({
      maxReadFileBytes: options.maxReadFileBytes,
      maxReplyBytes: Math.min(options.maxReplyBytes, SMALL_LISTING_BYTES),
      maxDirectoryBytes: SMALL_DIRECTORY_BYTES,
    });
  }

  /**
   * Runs the fs method `method`; `params` are validated by its schema. Throws RpcErrors. The
   * result of `fs/readFile` carries its JSON text (`withKnownJson`), so its reply is built without
   * a `JSON.stringify` of the whole file.
   */
  call(method: string, params: unknown, signal: AbortSignal): Promise<object> {
    if (!isFsMethod(method)) return Promise.reject(new TypeError(`not an fs method: ${method}`));
    return this.#parseAndRun(method, params, signal);
  }

  /** Runs the fs method `method` on params its schema has already parsed (see `call`). */
  run<M extends FsMethod>(method: M, params: FsParams[M], signal: AbortSignal): Promise<FsResults[M]> {
    const handler: Handlers[M] = FsConnection.#HANDLERS[method];
    return handler(this, params, signal);
  }

  /**
   * `fs/readFile` without the encoding, for a connection that takes binary frames (§11.12): the
   * file's bytes, with the same checks, routing and errors. A direct read leaves room for the
   * frame's header before the bytes, so the file is not copied into the frame.
   */
  async readFilePayload(
    params: FsParams["fs/readFile"],
    signal: AbortSignal,
    large?: LargeWait,
  ): Promise<FramePayload> {
    return await this.#readFileBytes(params, signal, FRAME_HEADROOM, large);
  }

  /**
   * `fs/readFile` as `run` makes it, reading past `large.heldBytes` only once `large.wait()` has
   * resolved (see `DirectFileSystem.readFileBytes`).
   */
  async readFile(
    params: FsParams["fs/readFile"],
    signal: AbortSignal,
    large?: LargeWait,
  ): Promise<FsReadFileResult> {
    const { bytes } = await this.#readFileBytes(params, signal, 0, large);
    return readFileWithJson({ dataBase64: encodeBase64(bytes) });
  }

  /**
   * The file's bytes for `fs/readFile`, routed by its sandbox: a direct read leaves `headroom`
   * bytes before them (a worker's reply arrives without any, so its headroom is 0).
   */
  async #readFileBytes(
    params: FsParams["fs/readFile"],
    signal: AbortSignal,
    headroom: number,
    large?: LargeWait,
  ): Promise<FramePayload> {
    const target = await this.#target(params.sandbox);
    const request = { ...withoutSandbox(params), path: parsePathUri(params.path, "path") };
    if (target instanceof SandboxedFileSystem) {
      return { bytes: await target.readFileBytes(request, signal, large), headroom: 0 };
    }
    return { bytes: await target.readFileBytes(request, headroom, large), headroom };
  }

  /**
   * `fs/readDirectory` made without a slot among the server's large replies: within
   * `SMALL_LISTING_BYTES` of JSON and of a directory within `SMALL_DIRECTORY_BYTES` on disk, else
   * `LargeListing`, and the listing is to be made with `run` once it has a slot.
   */
  readDirectorySmall(
    params: FsParams["fs/readDirectory"],
    signal: AbortSignal,
  ): Promise<FsReadDirectoryResult> {
    const request = { path: parsePathUri(params.path, "path") };
    return this.#small(
      params.sandbox,
      (target, limit) =>
        target instanceof SandboxedFileSystem
          ? target.readDirectory(request, signal, limit)
          : target.readDirectory(request),
    );
  }

  /** `fs/walk` made without a slot among the server's large replies, as `readDirectorySmall`. */
  walkSmall(params: FsParams["fs/walk"], signal: AbortSignal): Promise<FsWalkResult> {
    const request = { path: parsePathUri(params.path, "path"), options: params.options };
    return this.#small(
      params.sandbox,
      (target, limit) =>
        target instanceof SandboxedFileSystem
          ? target.walk(request, signal, limit)
          : target.walk(request, signal),
    );
  }

  /**
   * A listing by `list` on the connection's small direct file system or on the sandbox's worker
   * with a reply limit of `SMALL_LISTING_BYTES` (the worker reads directories in its own process:
   * only the reply it sends is the server's); one that passes it is a `LargeListing`.
   */
  async #small<T>(
    sandbox: unknown,
    list: (target: DirectFileSystem | SandboxedFileSystem, limit: number) => Promise<T>,
  ): Promise<T> {
    const limit = Math.min(this.#maxReplyBytes, SMALL_LISTING_BYTES);
    const target = await this.#target(sandbox);
    try {
      return await list(target === this.#direct ? this.#smallDirect : target, limit);
    } catch (error) {
      if (limit < this.#maxReplyBytes && error instanceof RpcError && error.code === ErrorCode.LimitReached) {
        throw new LargeListing(`more than ${limit} bytes`);
      }
      throw error;
    }
  }

  /** Closes every handle of this connection, in this process and in workers. */
  async close(): Promise<void> {
    await this.#owners.removeAll();
    await Promise.all([this.#direct.closeAll(), ...[...this.#views.values()].map((view) => view.closeAll())]);
  }

  #parseAndRun<M extends FsMethod>(method: M, raw: unknown, signal: AbortSignal): Promise<FsResults[M]> {
    const schema: z.ZodType<FsParams[M]> = PARAMS_SCHEMAS[method];
    return this.run(method, schema.parse(raw), signal);
  }

  static readonly #HANDLERS: Handlers = {
    "fs/readFile": async (c, p, signal) =>
      readFileWithJson(
        await (await c.#target(p.sandbox)).readFile(
          { ...withoutSandbox(p), path: parsePathUri(p.path, "path") },
          signal,
        ),
      ),
    "fs/writeFile": async (c, p, signal) =>
      (await c.#target(p.sandbox)).writeFile(
        { ...withoutSandbox(p), path: parsePathUri(p.path, "path") },
        signal,
      ),
    "fs/createDirectory": async (c, p, signal) =>
      (await c.#target(p.sandbox)).createDirectory(
        { ...withoutSandbox(p), path: parsePathUri(p.path, "path") },
        signal,
      ),
    "fs/getMetadata": async (c, p, signal) =>
      (await c.#target(p.sandbox)).getMetadata({ path: parsePathUri(p.path, "path") }, signal),
    "fs/canonicalize": async (c, p, signal) =>
      (await c.#target(p.sandbox)).canonicalize({ path: parsePathUri(p.path, "path") }, signal),
    "fs/readDirectory": async (c, p, signal) =>
      (await c.#target(p.sandbox)).readDirectory({ path: parsePathUri(p.path, "path") }, signal),
    "fs/walk": async (c, p, signal) =>
      (await c.#target(p.sandbox)).walk({ path: parsePathUri(p.path, "path"), options: p.options }, signal),
    "fs/remove": async (c, p, signal) =>
      (await c.#target(p.sandbox)).remove(
        { ...withoutSandbox(p), path: parsePathUri(p.path, "path") },
        signal,
      ),
    "fs/copy": async (c, p, signal) => {
      const sourcePath = parsePathUri(p.sourcePath, "sourcePath");
      const destinationPath = parsePathUri(p.destinationPath, "destinationPath");
      return await (await c.#target(p.sandbox)).copy(
        { sourcePath, destinationPath, recursive: p.recursive },
        signal,
      );
    },
    "fs/open": async (c, p, signal) => {
      const request = { ...withoutSandbox(p), path: parsePathUri(p.path, "path") };
      const target = await c.#target(p.sandbox);
      await c.#owners.open(p.handleId, async () => {
        await target.open(request, signal);
        return target;
      });
      return { handleId: p.handleId };
    },
    // An unknown id goes to the direct file system, which checks the block length first and then
    // answers `unknown file handle`: the same order a known handle gets.
    "fs/readBlock": async (c, p, signal) => {
      const owner = await c.#owner(p.handleId);
      const result = await owner.readBlock(p, signal);
      // Only this process's own base64 is spliced into a reply: a worker's is a string it sent,
      // and a worker that went wrong must not be able to write JSON into the client's reply.
      return owner instanceof DirectFileSystem ? readBlockWithJson(result) : result;
    },
    "fs/writeBlock": async (c, p, signal) => (await c.#owner(p.handleId)).writeBlock(p, signal),
    "fs/close": async (c, p, signal) => {
      const owner = await c.#owners.remove(p.handleId);
      return await (owner ?? c.#direct).close(p, signal);
    },
  };

  #owner(handleId: string): Promise<FileSystem> {
    return this.#owners.has(handleId) ? this.#owners.get(handleId) : Promise.resolve(this.#direct);
  }

  async #target(sandbox: unknown): Promise<DirectFileSystem | SandboxedFileSystem> {
    const route = await this.#route(sandbox);
    if (route === null) return this.#direct;
    let view = this.#views.get(route.key);
    if (view === undefined) {
      view = new SandboxedFileSystem({
        worker: route.worker,
        scope: this.#scope,
        maxReadFileBytes: this.#maxReadFileBytes,
      });
      this.#views.set(route.key, view);
    }
    return view;
  }
}
