import { ErrorCode, RpcError } from "../protocol/mod.ts";
import { FS_RESULT_SCHEMAS } from "../protocol/mod.ts";
import type { FsMethod } from "../protocol/mod.ts";
import { RpcPeer } from "../rpc/mod.ts";
import type { PipeChild, Runtime } from "../runtime/mod.ts";
import type { LaunchHandoff } from "../sandbox/mod.ts";
import type { FsRequests, FsResults } from "../protocol/mod.ts";
import { FrameSplitter } from "./frame_splitter.ts";
import type { FrameSplitterOptions } from "./frame_splitter.ts";
import { LineWriter } from "./line_writer.ts";
import { DEFAULT_MAX_READ_FILE_BYTES } from "./direct_file_system.ts";
import { MAX_BLOCK_BYTES } from "./file_handle_table.ts";
import { DEFAULT_MAX_REPLY_BYTES } from "./reply_budget.ts";
import {
  CLOSE_SCOPE_METHOD,
  DROP_READ_METHOD,
  HeldResultSchema,
  RESUME_READ_METHOD,
  WorkerErrorSchema,
  WorkerResponseSchema,
} from "./worker_protocol.ts";
import type { LargeWait } from "./large_wait.ts";
import type { WorkerMethod, WorkerResponse } from "./worker_protocol.ts";

/** How a worker starts (normally the sandbox launcher around `fs-worker`): command, env and cwd. */
export interface WorkerLaunch {
  readonly program: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** How a spare launcher takes this launch instead (`Launch.handoff`); none without a launcher. */
  readonly handoff?: LaunchHandoff;
}

/** Launchers started ahead of need (`SpareLaunchers`). */
export interface SpareSource {
  /**
   * The process of `launch` from a spare, its argv handed over; null when none waits. The next
   * spare starts once `up` settles (the worker has answered, or has ended).
   */
  take(launch: WorkerLaunch, up: Promise<unknown>): Promise<PipeChild | null>;
}

/** Options of an `FsWorker`. */
export interface FsWorkerOptions {
  /** Called for each start of the worker process (the first, and after a crash). */
  readonly launch: () => WorkerLaunch | Promise<WorkerLaunch>;
  /** Receives what is known about a worker that died unexpectedly (exit status, end of its stderr). */
  readonly onFailure?: (message: string, detail: unknown) => void;
  /** Where a start takes a launcher started ahead of need, when one waits. */
  readonly spares?: SpareSource;
  /** Called whenever the last request in flight has been answered (the worker may be retired then). */
  readonly onIdle?: () => void;
  /**
   * Called before an `fs/open` that would make the worker hold a handle when it holds none (it
   * could not be retired then): throws when no more workers may.
   */
  readonly beforePin?: () => void;
  /**
   * `--max-reply-bytes` (PROTOCOL.md §2.8), sent with every request: the worker's listings stop at
   * it, and a response line longer than any reply it allows ends the worker.
   * `DEFAULT_MAX_REPLY_BYTES` when absent.
   */
  readonly maxReplyBytes?: number;
  /**
   * `--max-read-file-bytes`: no `fs/readFile` asks the worker for more, so a bytes response that
   * announces more ends the worker. `DEFAULT_MAX_READ_FILE_BYTES` when absent.
   */
  readonly maxReadFileBytes?: number;
}

/**
 * UTF-16 units a response line may take beside its result: its id, and an error whose message
 * quotes a path (at most 4,096 bytes, six units each when JSON escapes them).
 */
const RESPONSE_LINE_OVERHEAD = 64 * 1024;
/**
 * The longest result that does not grow with what a directory holds: an `fs/readBlock` of
 * `MAX_BLOCK_BYTES` in base64, which the reply limit refuses only after the worker has sent it.
 */
const LARGEST_FIXED_RESULT = Math.ceil(MAX_BLOCK_BYTES / 3) * 4 + 64;

/** Bytes of a worker's stderr kept for the failure report. */
const STDERR_TAIL_BYTES = 4096;
const SIGKILL = 9;

/** -32603 WorkerFailed: the worker died (or broke the protocol) with the request in flight. */
export function workerExited(cause?: unknown): RpcError {
  return new RpcError(ErrorCode.Internal, "WorkerFailed", "fs sandbox worker exited unexpectedly", { cause });
}

/** One started worker process and the engine that talks to it. */
class WorkerProcess {
  readonly child: PipeChild;
  readonly peer: RpcPeer;
  stderrTail = "";
  /** No more requests go to it (it died, broke the protocol, or is being stopped). */
  dead = false;
  /** Its exit status has been collected. */
  reaped = false;
  /** Ended on purpose while it served nothing (`FsWorker.retireIfIdle`): not a failure to report. */
  retired = false;
  /** The ids of the handles open in this process, by scope: a process that holds one must keep running. */
  readonly handles = new Map<string, Set<string>>();
  /** Resolved by its first response line or by its end, whichever comes first. */
  readonly up: PromiseWithResolvers<void>;

  constructor(child: PipeChild, up: PromiseWithResolvers<void>, onBrokenPipe: (error: unknown) => void) {
    this.child = child;
    this.up = up;
    const stdin = child.stdin;
    const writer = new LineWriter((data) => {
      if (stdin === null) return Promise.reject(new TypeError("fs worker has no stdin pipe"));
      return stdin.write(data);
    });
    this.peer = new RpcPeer({
      transport: { send: (text) => void writer.write(text).catch(onBrokenPipe) },
      jsonrpc: false,
      // The worker sends no requests or notifications, and every response line is validated
      // before it reaches the engine, so nothing unexpected is left to report.
      log: () => {},
      remoteError: workerError,
    });
    void child.exited.then(() => {
      this.reaped = true;
    });
  }
}

/**
 * A long-lived fs worker process, started on first use, answering pipelined requests matched by
 * id. When the process dies, every request in flight on it fails with -32603 WorkerFailed and the
 * next request starts a fresh process; no request waits on a dead worker.
 */
export class FsWorker implements AsyncDisposable {
  readonly #runtime: Runtime;
  readonly #options: FsWorkerOptions;
  readonly #maxReplyBytes: number;
  /** How the worker's stdout is split into responses, and what one may hold. */
  readonly #frames: FrameSplitterOptions<WorkerResponse>;
  /** The worker being started or running; null when the next request must start one. */
  #process: Promise<WorkerProcess> | null = null;
  /** The process `#process` resolved to, once it has started. */
  #running: WorkerProcess | null = null;
  /** Requests between their call and their answer, a worker start included. */
  #inFlight = 0;
  /** The `fs/open`s among them: each may leave the worker holding a handle. */
  #opening = 0;
  /** Whether a request has been sent: a worker nothing has used yet is about to start. */
  #used = false;
  #stopped = false;
  /** The id of the next held `fs/readFile`. */
  #holds = 0;
  /**
   * The ids of handles, by scope, that were open in a process that has died: the next process
   * does not know them, but the connection still holds them until it closes them, so their reads
   * and writes answer WorkerFailed rather than `unknown file handle`.
   */
  readonly #lost = new Map<string, Set<string>>();

  constructor(runtime: Runtime, options: FsWorkerOptions) {
    this.#runtime = runtime;
    this.#options = options;
    this.#maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    // A worker acts on what a sandbox wrote and may be subverted: what the server reads from it is
    // bounded by the largest answer a sound worker gives, whatever it sends.
    this.#frames = {
      ...RESPONSE_FRAMES,
      limits: {
        maxHeaderLength: Math.max(this.#maxReplyBytes, LARGEST_FIXED_RESULT) + RESPONSE_LINE_OVERHEAD,
        maxPayloadBytes: options.maxReadFileBytes ?? DEFAULT_MAX_READ_FILE_BYTES,
        tooLarge: (detail) => protocolError(detail),
      },
    };
  }

  /** The pid of the running worker process, or null when none runs (for diagnostics and tests). */
  async pid(): Promise<number | null> {
    const current = this.#process;
    if (current === null) return null;
    const process = await current.catch(() => null);
    return process === null || process.dead ? null : process.child.pid;
  }

  /**
   * Sends one fs request on behalf of `scope` (a connection) and waits for its answer; with
   * `maxReplyBytes`, the listings stop at it rather than at the worker's own limit.
   */
  async call<M extends Exclude<FsMethod, "fs/readFile">>(
    scope: string,
    method: M,
    request: FsRequests[M],
    signal?: AbortSignal,
    maxReplyBytes?: number,
  ): Promise<FsResults[M]> {
    const limit = maxReplyBytes === undefined
      ? {}
      : { maxReplyBytes: Math.min(maxReplyBytes, this.#maxReplyBytes) };
    const result = await this.#send(scope, method, request, signal, limit);
    if (result instanceof Uint8Array) throw protocolError(`${method} answered with bytes`);
    const parsed = FS_RESULT_SCHEMAS[method].safeParse(result);
    if (!parsed.success) throw protocolError(`invalid result for ${method}`);
    // The schema of `method` just accepted the value, so it is that method's result.
    return result as FsResults[M];
  }

  /**
   * `fs/readFile` on behalf of `scope`: the file's bytes, which cross the pipe unencoded. With
   * `large`, the worker holds the read after `large.heldBytes` until `large.wait()` resolves, then
   * reads on the same descriptor; the worker is not retired while it holds one.
   */
  async readFile(
    scope: string,
    request: FsRequests["fs/readFile"],
    signal?: AbortSignal,
    large?: LargeWait,
  ): Promise<Uint8Array> {
    if (large === undefined) return bytesOf(await this.#send(scope, "fs/readFile", request, signal));
    const hold = { id: this.#holds++, bytes: large.heldBytes };
    this.#inFlight++;
    try {
      const first = await this.#send(scope, "fs/readFile", request, signal, { hold });
      if (first instanceof Uint8Array) return first;
      if (!HeldResultSchema.safeParse(first).success) throw protocolError("invalid result for fs/readFile");
      const holder = this.#running;
      // A worker that ended meanwhile took the held read with it.
      const holds = (): boolean => holder !== null && !holder.dead && this.#running === holder;
      try {
        await large.wait();
      } catch (error) {
        if (holds()) await this.#send(scope, DROP_READ_METHOD, { id: hold.id }, undefined).catch(() => {});
        throw error;
      }
      if (!holds()) throw workerExited();
      return bytesOf(await this.#send(scope, RESUME_READ_METHOD, { id: hold.id }, signal));
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#options.onIdle?.();
    }
  }

  /** Closes every handle `scope` holds in the worker; nothing to do when no worker runs. */
  async closeScope(scope: string): Promise<void> {
    this.#lost.delete(scope);
    const current = this.#process;
    if (current === null) return;
    const process = await current.catch(() => null);
    if (process === null || process.dead) return;
    await this.#send(scope, CLOSE_SCOPE_METHOD, {}, undefined).catch(() => {
      // A worker that died took the scope's handles with it.
    });
  }

  /** Whether a worker process is running or starting. */
  get live(): boolean {
    return this.#process !== null;
  }

  /** Whether it counts against a bound of running workers: live, or made for a request not sent yet. */
  get occupying(): boolean {
    return !this.#stopped && (this.#process !== null || !this.#used);
  }

  /**
   * Whether a request is in flight, or about to be sent to a worker made for it: it will be idle
   * again, where open handles may keep it running for good.
   */
  get busy(): boolean {
    return this.#inFlight > 0 || (!this.#used && !this.#stopped);
  }

  /**
   * Whether it holds an open file handle, or may hold one when an `fs/open` in flight answers:
   * it cannot be retired then, maybe for good.
   */
  get pinned(): boolean {
    return this.#opening > 0 || (this.#running !== null && this.#running.handles.size > 0);
  }

  /**
   * Ends the worker process if it serves nothing (no request in flight, no open handle), and
   * returns whether it did; the next request starts a new process, as after a crash.
   */
  retireIfIdle(): boolean {
    const process = this.#running;
    if (this.#inFlight > 0 || process === null || process.dead || process.handles.size > 0) return false;
    process.retired = true;
    this.#fail(process, workerExited(new Error("worker retired")));
    this.#process = null;
    this.#running = null;
    return true;
  }

  /** Stops the worker: requests in flight fail with WorkerFailed, and so do later calls. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const current = this.#process;
    this.#process = null;
    const process = await current?.catch(() => null);
    if (process === null || process === undefined) return;
    this.#fail(process, workerExited(new Error("worker stopped")));
    await process.child.exited;
  }

  /** See `stop`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #send(
    scope: string,
    method: WorkerMethod,
    request: unknown,
    signal: AbortSignal | undefined,
    extra: Record<string, unknown> = {},
  ): Promise<unknown> {
    signal?.throwIfAborted();
    if (this.#stopped) throw workerExited(new Error("worker stopped"));
    const handleId = handleOf(method, request);
    if (handleId !== null && this.#lost.get(scope)?.has(handleId) === true) {
      if (method !== "fs/close") throw workerExited(new Error("the worker that held the handle exited"));
      // The next process answers the close of an id it does not know with `{}`.
      forget(this.#lost, scope, handleId);
    }
    this.#used = true;
    const opens = method === "fs/open";
    if (opens && !this.pinned) {
      try {
        this.#options.beforePin?.();
      } catch (error) {
        // A worker made for this request no longer counts as about to start: a request waiting
        // for room looks again.
        if (this.#inFlight === 0) this.#options.onIdle?.();
        throw error;
      }
    }
    if (opens) this.#opening++;
    this.#inFlight++;
    try {
      let process = await this.#current();
      // It may have died while this request waited for it to start; one fresh start is allowed.
      if (process.dead) process = await this.#current();
      if (process.dead) throw workerExited();
      // The caller may have given up while the worker started; then nothing is sent, and no
      // answer will tell that the worker is up: the next spare need not wait for one.
      if (signal?.aborted === true) {
        process.up.resolve();
        signal.throwIfAborted();
      }
      const params = { scope, request, maxReplyBytes: this.#maxReplyBytes, ...extra };
      const result = await process.peer.call(method, params, signal);
      trackHandles(process, scope, method, handleId);
      // An open answered just before the process died is as lost as the others.
      if (process.dead) this.#loseHandles(process);
      return result;
    } finally {
      if (opens) this.#opening--;
      this.#inFlight--;
      if (this.#inFlight === 0) this.#options.onIdle?.();
    }
  }

  #current(): Promise<WorkerProcess> {
    if (this.#process !== null) return this.#process;
    const started = this.#start();
    this.#process = started;
    // A failed start is forgotten so the next request tries again.
    started.then((process) => {
      if (this.#process === started) this.#running = process;
    }, () => {
      if (this.#process === started) this.#process = null;
    });
    return started;
  }

  async #start(): Promise<WorkerProcess> {
    let child: PipeChild;
    // Until this worker is up, the next spare waits: two runtimes starting at once share the CPU,
    // and the first call would wait for both (2 cores, median first call: Bun 24.3–25.0 against
    // 22.4–23.2 ms, Deno 83.8 against 49.7–50.8 ms).
    const up = Promise.withResolvers<void>();
    try {
      const launch = await this.#options.launch();
      child = await this.#options.spares?.take(launch, up.promise) ?? await this.#runtime.spawn({
        program: launch.program,
        args: launch.args,
        argv0: launch.program,
        cwd: launch.cwd,
        env: launch.env,
        stdin: "pipe",
      });
    } catch (error) {
      up.resolve();
      // A policy refused at the start (its roots are looked up again then) is the client's -32602.
      if (error instanceof RpcError && error.code === ErrorCode.InvalidParams) throw error;
      throw new RpcError(ErrorCode.Internal, "WorkerFailed", "fs sandbox worker could not be started", {
        cause: error,
      });
    }
    const process: WorkerProcess = new WorkerProcess(child, up, (error) => {
      // The pipe broke: the worker is dying.
      this.#fail(process, workerExited(error));
    });
    void this.#readStderr(process);
    void this.#readResponses(process);
    return process;
  }

  async #readResponses(process: WorkerProcess): Promise<void> {
    try {
      const frames = process.child.stdout.pipeThrough(new FrameSplitter(this.#frames));
      for await (const { header: response, payload } of frames) {
        process.up.resolve();
        // A bytes response stands for a result that is those bytes; the splitter hands over
        // exactly `bytes` of them. An answer whose caller gave up is dropped by the engine.
        const message = "bytes" in response
          ? { id: response.id, result: payload ?? new Uint8Array(0) }
          : response;
        void process.peer.receiveValue(message);
      }
      this.#fail(process, workerExited());
    } catch (error) {
      this.#fail(process, error instanceof RpcError ? error : workerExited(error));
    }
    const status = await process.child.exited;
    if (!this.#stopped && !process.retired) {
      this.#options.onFailure?.("fs sandbox worker exited unexpectedly", {
        status,
        stderr: process.stderrTail,
      });
    }
  }

  async #readStderr(process: WorkerProcess): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of process.child.stderr) {
        const text = process.stderrTail + decoder.decode(chunk, { stream: true });
        process.stderrTail = text.slice(-STDERR_TAIL_BYTES);
      }
    } catch {
      // The pipe closed with the process.
    }
  }

  /** Moves the handles open in `process`, which has died, to the lost ones. */
  #loseHandles(process: WorkerProcess): void {
    for (const [scope, ids] of process.handles) {
      const lost = this.#lost.get(scope) ?? new Set<string>();
      for (const id of ids) lost.add(id);
      this.#lost.set(scope, lost);
    }
    process.handles.clear();
  }

  /** Retires `process`: fails what is in flight on it, forgets it, and kills it if it still runs. */
  #fail(process: WorkerProcess, error: RpcError): void {
    process.up.resolve();
    process.peer.close(error);
    if (process.dead) return;
    process.dead = true;
    this.#loseHandles(process);
    // Nothing more is sent to it; the runtime does not close the pipe by itself.
    void process.child.stdin?.close().catch(() => {});
    if (this.#running === process) this.#running = null;
    const current = this.#process;
    if (current !== null) {
      void current.then((value) => {
        if (value === process && this.#process === current) this.#process = null;
      }, () => {});
    }
    if (!process.reaped) {
      try {
        this.#runtime.kill(process.child.pid, SIGKILL);
      } catch {
        // Already gone.
      }
    }
  }
}

/** The bytes a worker answered `fs/readFile` with; anything else breaks the protocol. */
function bytesOf(result: unknown): Uint8Array {
  if (!(result instanceof Uint8Array)) throw protocolError("fs/readFile answered without bytes");
  return result;
}

/**
 * Keeps `process.handles` in step with a request of `scope` that the worker has answered with a
 * result. A failed or withdrawn close is not counted: the handle may still be open, and a handle
 * kept too long only keeps the process running until its scope closes.
 */
function trackHandles(
  process: WorkerProcess,
  scope: string,
  method: WorkerMethod,
  handleId: string | null,
): void {
  if (method === CLOSE_SCOPE_METHOD) {
    process.handles.delete(scope);
  } else if (method === "fs/open" && handleId !== null) {
    const ids = process.handles.get(scope) ?? new Set<string>();
    ids.add(handleId);
    process.handles.set(scope, ids);
  } else if (method === "fs/close" && handleId !== null) {
    forget(process.handles, scope, handleId);
  }
}

/** Removes `handleId` from `scope`'s ids, and the scope once it has none. */
function forget(handles: Map<string, Set<string>>, scope: string, handleId: string): void {
  const ids = handles.get(scope);
  ids?.delete(handleId);
  if (ids?.size === 0) handles.delete(scope);
}

/** The handle id a handle method names, or null for any other request. */
function handleOf(method: WorkerMethod, request: unknown): string | null {
  if (
    method !== "fs/open" && method !== "fs/readBlock" && method !== "fs/writeBlock" && method !== "fs/close"
  ) {
    return null;
  }
  const id = (request as { readonly handleId?: unknown }).handleId;
  return typeof id === "string" ? id : null;
}

/** Worker stdout: validated response lines, a bytes response followed by its bytes. */
const RESPONSE_FRAMES: FrameSplitterOptions<WorkerResponse> = {
  parseHeader(line) {
    try {
      return WorkerResponseSchema.parse(JSON.parse(line));
    } catch (error) {
      throw protocolError("unparseable response", error);
    }
  },
  payloadBytes: (response) => "bytes" in response ? response.bytes : null,
};

/** The RpcError an error reply stands for: the one the worker's `DirectFileSystem` threw. */
function workerError(error: unknown): RpcError {
  // `WorkerResponseSchema` has accepted the line already; the parse gives the typed value.
  const parsed = WorkerErrorSchema.safeParse(error);
  if (!parsed.success) return protocolError("unparseable response");
  const { code, message, data } = parsed.data;
  return new RpcError(code, data.kind, message, data.errno === undefined ? {} : { errno: data.errno });
}

function protocolError(detail: string, cause?: unknown): RpcError {
  return new RpcError(
    ErrorCode.Internal,
    "WorkerFailed",
    `fs sandbox worker sent an invalid response: ${detail}`,
    { cause },
  );
}
