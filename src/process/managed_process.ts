import type { ProcessListEntry, ProcessReadResult, StreamName, WriteStatus } from "../protocol/mod.ts";
import { chunkReader, recycleBuffer } from "../runtime/mod.ts";
import type { ChunkReader, ExitStatus, PipeChild, PtyChild, Runtime, TerminalSize } from "../runtime/mod.ts";
import { signalGroup } from "../containment/mod.ts";
import type { Container } from "../containment/mod.ts";
import { DenialScanner } from "./denial_scanner.ts";
import { type LogChunk, MAX_CHUNK_BYTES, OutputLog } from "./output_log.ts";
import type { InputAccount } from "./input_budget.ts";
import { INPUT_BUFFERS } from "./input_buffers.ts";
import { StdinQueue } from "./stdin_queue.ts";
import { WriteIdMemory } from "./write_id_memory.ts";

/** How long `exited` waits for output still in flight at the exit (see `#finish`). */
const EXIT_ORDER_GRACE_MS = 25;
/** Marks a read that has not settled within the current turn (see `#pump`). */
const NOT_READY: Promise<"notReady"> = Promise.resolve("notReady");

/**
 * How long the output of a process whose session is gone may take to end after the exit (see
 * `abandon`): a killed tree lets go of its pipes within milliseconds.
 */
const ABANDON_GRACE_MS = 1_000;

/**
 * Output volume after which a closing process asks the runtime to hand memory back, unless its
 * output went to a connection (`ProcessEvents.delivering`).
 */
export const RELEASE_AFTER_BYTES = 64 * 1024 * 1024;

/** Signal numbers used by the manager itself. */
const SIGHUP = 1;
const SIGKILL = 9;
const SIGTERM = 15;

/** What a process reports to its owner as its log grows. */
export interface ProcessEvents {
  /** A chunk was appended; `bytes` are its bytes, valid only during the call. */
  output(process: ManagedProcess, chunk: LogChunk, bytes: Uint8Array): void;
  exited(process: ManagedProcess, seq: number): void;
  closed(process: ManagedProcess, seq: number): void;
  /** Resolves when the owner's outbound path can take more output (§5.12). */
  flowReady(): Promise<void> | null;
  /**
   * Whether the output goes to a connection, whose traffic the server's quiet release counts: that
   * release then runs once the stream's tail and `closed` have left, not in their way.
   */
  delivering(): boolean;
}

/** Fixed facts of a process known before it spawns. */
export interface ProcessInit {
  readonly processId: string;
  readonly argv0: string;
  readonly tty: boolean;
  readonly retainedOutputBytes: number;
  readonly killGraceMs: number;
  /** `writeId`s remembered (§5.7): at least as many as a connection may have requests in flight. */
  readonly writeIdsKept: number;
  /** The session's account of the server's bound on input its processes have not read (§5.7). */
  readonly inputBudget: InputAccount;
}

/** How a spawned child is watched: its timeout and its container. */
export interface AttachOptions {
  readonly timeoutMs: number | null;
  readonly container: Container;
}

/** The states of PROTOCOL.md §5.3. */
export type ProcessState = "starting" | "running" | "exited" | "closed";

/**
 * One process of a session: its child, its output log, its stdin queue and its state machine.
 * Signals address the child's process group; kills and timeouts address its whole container.
 */
export class ManagedProcess {
  readonly id: string;
  readonly argv0: string;
  readonly tty: boolean;
  readonly startedAtMs = Date.now();
  readonly log: OutputLog;
  readonly writeIds: WriteIdMemory;

  #state: ProcessState = "starting";
  #pid: number | null = null;
  #leaderReaped = false;
  #exitCode: number | null = null;
  #timedOut = false;
  #failure: string | null = null;
  #sandboxDenied = false;
  #scanner: DenialScanner | null = null;
  readonly #runtime: Runtime;
  readonly #events: ProcessEvents;
  readonly #killGraceMs: number;
  readonly #inputBudget: InputAccount;
  #pty: PtyChild | null = null;
  #stdin: StdinQueue | null = null;
  #container: Container | null = null;
  #started = Promise.withResolvers<boolean>();
  /** Operations that arrived while starting, run in arrival order when the start ends (§5.3). */
  #startQueue: Array<() => void> | null = [];
  #closed = Promise.withResolvers<void>();
  /** Resolves once the exit status is known. */
  #exitKnown = Promise.withResolvers<void>();
  /** The readers of the output streams, for `abandon`. */
  readonly #readers: ChunkReader[] = [];
  #abandoned = false;
  #timeout: ReturnType<typeof setTimeout> | null = null;
  #killTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(runtime: Runtime, init: ProcessInit, events: ProcessEvents) {
    this.#runtime = runtime;
    this.#events = events;
    this.id = init.processId;
    this.argv0 = init.argv0;
    this.tty = init.tty;
    this.#killGraceMs = init.killGraceMs;
    this.#inputBudget = init.inputBudget;
    this.log = new OutputLog(init.retainedOutputBytes, {
      encode: (bytes) => runtime.encodeBase64(bytes),
      release: recycleBuffer,
    });
    this.writeIds = new WriteIdMemory(init.writeIdsKept);
  }

  /** Whether it runs sandboxed: its output is then scanned for denials (§5.11). */
  get sandboxed(): boolean {
    return this.#scanner !== null;
  }

  /** Marks the process as sandboxed before it spawns. */
  markSandboxed(): void {
    this.#scanner ??= new DenialScanner();
  }

  /** Resolves once the process is closed, or at once if its start failed. */
  get closedPromise(): Promise<void> {
    return this.#closed.promise;
  }

  get state(): ProcessState {
    return this.#state;
  }

  get pid(): number | null {
    return this.#pid;
  }

  get exitCode(): number | null {
    return this.#exitCode;
  }

  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Resolves true when the spawn succeeded, false when it failed. */
  get started(): Promise<boolean> {
    return this.#started.promise;
  }

  /** Marks the spawn as failed; the owner removes the entry. */
  failStart(): void {
    this.#started.resolve(false);
    this.#closed.resolve();
    this.#flushStartQueue();
  }

  /**
   * Runs `action` synchronously once the start has finished, after every action registered
   * before it. Awaiting `started` instead would let operations overtake one another, since
   * their continuations take different numbers of microtask hops.
   */
  onceStarted(action: () => void): void {
    if (this.#startQueue === null) action();
    else this.#startQueue.push(action);
  }

  #flushStartQueue(): void {
    const queue = this.#startQueue ?? [];
    this.#startQueue = null;
    for (const action of queue) action();
  }

  /** Takes over a spawned pipe child. */
  attachPipes(child: PipeChild, options: AttachOptions): void {
    this.#pid = child.pid;
    this.#stdin = child.stdin ? new StdinQueue(child.stdin, this.#inputBudget, giveInput) : null;
    this.#becomeRunning(options);
    const stdout = this.#pump(child.stdout, "stdout");
    const stderr = this.#pump(child.stderr, "stderr");
    void this.#finish(child.exited, Promise.all([stdout, stderr]));
  }

  /** Takes over a spawned terminal child. */
  attachPty(child: PtyChild, options: AttachOptions): void {
    this.#pid = child.pid;
    this.#pty = child;
    this.#stdin = new StdinQueue(
      { write: (data) => child.write(data), close: () => Promise.resolve() },
      this.#inputBudget,
      giveInput,
    );
    this.#becomeRunning(options);
    const output = this.#pump(child.output, "pty");
    const exited = child.exited.then((status) => {
      // The kernel hangs up a controlling terminal's session when its leader exits; do the same
      // so that background jobs let go of the terminal and the output reaches end of file.
      this.#signalGroup(SIGHUP);
      return status;
    });
    void this.#finish(exited, output.finally(() => child.close()));
  }

  #becomeRunning(options: AttachOptions): void {
    this.#state = "running";
    this.#container = options.container;
    if (this.#pid !== null) options.container.started(this.#pid, (failure) => this.#fail(failure));
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== null) this.#timeout = setTimeout(() => this.#onTimeout(), timeoutMs);
    this.#started.resolve(true);
    this.#flushStartQueue();
  }

  async #pump(stream: ReadableStream<Uint8Array>, name: StreamName): Promise<void> {
    const reader = chunkReader(stream);
    this.#readers.push(reader);
    // A stream that ended keeps its reader: nothing reads it after the pump, and a release creates
    // two TypeErrors for the closed promise and the pending reads (about 22 µs each on Deno, two
    // pipes a start).
    let ended = false;
    try {
      let pending = reader.read();
      for (;;) {
        const gate = this.#events.flowReady();
        if (gate !== null) await gate;
        const first = await pending;
        if (first.done) {
          // The end comes back in the memory the read was given: it goes back to the pool, or
          // every short-lived child would take two fresh buffers from it and leave them to the
          // collector.
          reader.recycle(first.value);
          ended = true;
          return;
        }
        let bytes = first.value;
        pending = reader.read();
        // Merge what the stream already holds into one chunk: a busy server otherwise turns a
        // fast writer's output into many small chunks, each paying for its own notification.
        while (bytes.byteLength < MAX_CHUNK_BYTES) {
          const next = await Promise.race([pending, NOT_READY]);
          if (next === "notReady") break;
          if (next.done) {
            if (!this.#append(name, bytes)) reader.recycle(bytes);
            reader.recycle(next.value);
            ended = true;
            return;
          }
          const merged = concatBytes(bytes, next.value);
          reader.recycle(bytes);
          reader.recycle(next.value);
          bytes = merged;
          pending = reader.read();
        }
        // The chunk is encoded by now, so its memory can take another read unless the log kept it.
        if (!this.#append(name, bytes)) reader.recycle(bytes);
      }
    } catch (error) {
      this.#fail(`output read failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      if (!ended) reader.releaseLock();
    }
  }

  /** Records the first failure and wakes long polls (§5.6 wake condition 4). */
  #fail(failure: string): void {
    if (this.#failure !== null) return;
    this.#failure = failure;
    this.log.touch();
  }

  /**
   * Logs `bytes` as chunks and sends them; true when the log took `bytes` itself, whose memory
   * then goes back to the pool only once the log drops it.
   */
  #append(stream: StreamName, bytes: Uint8Array): boolean {
    this.#scanner?.scan(bytes);
    let taken = false;
    for (let offset = 0; offset < bytes.byteLength; offset += MAX_CHUNK_BYTES) {
      const part = offset === 0 && bytes.byteLength <= MAX_CHUNK_BYTES
        ? bytes
        : bytes.subarray(offset, Math.min(offset + MAX_CHUNK_BYTES, bytes.byteLength));
      let kept: Uint8Array | null = null;
      if (this.#runtime.keepsOutputBytes) {
        // A read that filled at least half its buffer is kept as it is (256 MiB of stdout otherwise
        // cost a copy of every chunk); a smaller one is copied, so that the log holds at most twice
        // the bytes it counts (4/3 as base64). `part` is memory the next read reuses otherwise.
        taken = part === bytes && part.byteLength * 2 >= part.buffer.byteLength;
        kept = taken ? part : part.slice();
      }
      const entry = this.log.appendChunk(stream, this.#runtime.encodeBase64(part), part.byteLength, kept);
      this.#events.output(this, entry, part);
    }
    return taken;
  }

  async #finish(exited: Promise<ExitStatus>, outputDone: Promise<unknown>): Promise<void> {
    const status = await exited;
    this.#exitKnown.resolve();
    this.#leaderReaped = true;
    this.#container?.leaderReaped();
    // A sandboxed command's descendants end with it. The Codex reference gives every sandboxed
    // command a PID namespace, which the kernel empties when the command exits, so a background
    // job there neither writes later nor holds `closed` back, and Codex reports the command as
    // exited rather than as a session still running.
    if (this.sandboxed) this.#signalTree(SIGKILL);
    // Output written before the exit is usually still in flight in the pipes; give it a moment
    // to arrive so `exited` follows it, as clients expect. Descendants holding the pipes open
    // cost at most this grace; the timer is cleared as soon as the output ends.
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      outputDone,
      new Promise<void>((resolve) => {
        grace = setTimeout(resolve, EXIT_ORDER_GRACE_MS);
      }),
    ]);
    clearTimeout(grace);
    const exitCode = status.signal !== null ? 128 + status.signal : (status.code ?? 0);
    // A limit explains an unsuccessful exit; it is looked up before `exited` so that both carry it.
    // A limit ends the whole tree, as cgroup v2's group OOM kill does: on v1 the kernel kills only
    // the largest process, so the rest goes here.
    if (exitCode !== 0 && this.#failure === null && this.#container !== null) {
      const failure = await this.#container.limitFailure();
      if (failure !== null) {
        this.#fail(failure);
        this.#signalTree(SIGKILL);
      }
    }
    this.#exitCode = exitCode;
    this.#sandboxDenied = this.sandboxed && this.#exitCode !== 0 &&
      (this.#exitCode === 159 || (this.#scanner?.found ?? false));
    this.#state = "exited";
    this.#events.exited(this, this.log.appendExited());
    await outputDone;
    if (this.#timeout !== null) clearTimeout(this.#timeout);
    if (this.#killTimer !== null) clearTimeout(this.#killTimer);
    this.#state = "closed";
    // No write is taken from here on (§5.7), so the pipe goes now: a descendant that still reads
    // it gets end of file, and the server holds no descriptor for a process that is over. Writes
    // still held back answer stdinClosed.
    this.#stdin?.end();
    this.#events.closed(this, this.log.appendClosed());
    // A release here runs before the tail and `closed` have left the server (on Deno the socket's
    // writes wait for its two collections, 20–130 ms on an idle VM): where they go to a connection,
    // the quiet after them releases instead.
    if (this.log.totalBytes >= RELEASE_AFTER_BYTES && !this.#events.delivering()) {
      this.#runtime.releaseMemory();
    }
    this.#container?.closed();
    this.#closed.resolve();
  }

  /** Queues bytes for stdin in arrival order (§5.7); waits under back-pressure. */
  write(data: Uint8Array): Promise<WriteStatus> {
    if (this.#state === "closed" || this.#stdin === null) return Promise.resolve("stdinClosed");
    return this.#stdin.write(data);
  }

  /** Closes stdin after what is queued (§11.7); a terminal gets its end-of-file character. */
  closeStdin(): Promise<"accepted" | "stdinClosed"> {
    if (this.#state === "closed" || this.#stdin === null || this.#stdin.closed) {
      return Promise.resolve("stdinClosed");
    }
    if (this.#pty !== null) {
      const status = this.#stdin.write(new Uint8Array([4]));
      this.#stdin.markClosed();
      return status.then((result) => result === "accepted" ? "accepted" : "stdinClosed");
    }
    return this.#stdin.close();
  }

  /**
   * The process leaves its session (retention is over): its container goes too. It stays until
   * here so that `process/list` reads the figures of a closed process from it.
   */
  async release(): Promise<void> {
    await this.#container?.release();
  }

  /** Sends a signal to the process group unless the process is closed. */
  signal(signal: number): void {
    if (this.#state === "running" || this.#state === "exited") this.#signalGroup(signal);
  }

  /** SIGKILL to the group (§5.9); true when the process was still running. */
  terminate(): boolean {
    if (this.#state === "closed") return false;
    const running = this.#state === "running";
    this.#signalTree(SIGKILL);
    return running;
  }

  /**
   * Its session is gone (expiry, shutdown), so nobody reads its output any more: once the exit is
   * known and the output has not ended within `ABANDON_GRACE_MS`, the output is no longer read and
   * the process closes. A descendant that no kill reaches (one that left the session and lost its
   * parent, on a server without cgroups: protocol.md §11.9) would otherwise hold the pipes or the
   * terminal in the server, the process in memory and its place among the server's running
   * processes for as long as it lives, refusing other clients' starts at `--max-processes`. The
   * descendant then gets EPIPE (or a hung-up terminal) on its next write.
   */
  abandon(): void {
    if (this.#abandoned || this.#state === "closed") return;
    this.#abandoned = true;
    void this.#exitKnown.promise.then(() => {
      const timer = setTimeout(() => {
        for (const reader of this.#readers) void reader.cancel().catch(() => {});
      }, ABANDON_GRACE_MS);
      void this.#closed.promise.then(() => clearTimeout(timer));
    });
  }

  /** Sets the terminal size; false when this is not a terminal process. */
  resize(size: TerminalSize): boolean {
    if (this.#pty === null) return false;
    if (this.#state === "running") this.#pty.resize(size);
    return true;
  }

  /** The state part of a `process/read` result plus the selected chunks. */
  read(afterSeq: number, maxBytes: number | null): ProcessReadResult {
    const snapshot = this.log.snapshot(afterSeq, maxBytes);
    const result: ProcessReadResult = {
      chunks: snapshot.chunks,
      nextSeq: snapshot.nextSeq,
      exited: this.log.exitedSeq !== null,
      exitCode: this.log.exitedSeq !== null ? this.#exitCode : null,
      closed: this.#state === "closed",
      failure: this.#failure,
      sandboxDenied: this.#sandboxDenied,
      droppedBytes: snapshot.droppedBytes,
    };
    if (this.#timedOut) result.timedOut = true;
    return result;
  }

  /** Whether a long poll with `afterSeq` should answer now (§5.6 wake conditions). */
  hasNewsAfter(afterSeq: number): boolean {
    return this.#failure !== null || this.log.hasNewsAfter(afterSeq);
  }

  get sandboxDenied(): boolean {
    return this.#sandboxDenied;
  }

  /** Why the process failed (an output read, or a limit that ended it), or null. */
  get failure(): string | null {
    return this.#failure;
  }

  /** The `process/list` row. */
  listEntry(): ProcessListEntry {
    const usage = this.#container === null
      ? { peakMemoryBytes: null, cpuSeconds: null }
      : this.#container.usage();
    return {
      processId: this.id,
      argv0: this.argv0,
      state: this.#state,
      tty: this.tty,
      pid: this.#pid,
      exitCode: this.#exitCode,
      startedAtMs: this.startedAtMs,
      outputBytes: this.log.totalBytes,
      peakMemoryBytes: usage.peakMemoryBytes,
      cpuSeconds: usage.cpuSeconds,
    };
  }

  #onTimeout(): void {
    this.#timeout = null;
    if (this.#state === "closed") return;
    // Past the exit only the descendants still hold the output open: they get the same
    // treatment, but the command itself finished in time (§11.4).
    if (this.#state === "running") this.#timedOut = true;
    this.#signalTree(SIGTERM);
    this.#killTimer = setTimeout(() => {
      this.#killTimer = null;
      if (this.#state !== "closed") this.#signalTree(SIGKILL);
    }, this.#killGraceMs);
  }

  /** Signals the whole container: the group and the descendants that left it (§11.9). */
  #signalTree(signal: number): void {
    this.#container?.signalAll(signal);
  }

  #signalGroup(signal: number): void {
    if (this.#pid !== null) signalGroup(this.#runtime, this.#pid, signal, this.#leaderReaped);
  }
}

/** A write's bytes are in the child's stdin: their buffer may take another write. */
function giveInput(data: Uint8Array): void {
  INPUT_BUFFERS.give(data);
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
