import { encodeBase64 } from "../protocol/mod.ts";
import type {
  CloseStdinStatus,
  ProcessReadResult,
  ProcessStartResult,
  SIGNAL_NUMBERS,
  WriteStatus,
} from "../protocol/mod.ts";
import { ClientError } from "./client_error.ts";
import type { CallOptions, ExecBackend } from "./exec_backend.ts";
import { randomId } from "./ids.ts";
import type { ProcessEvent } from "./process_event.ts";
import { ProcessEventStream } from "./process_event_stream.ts";

/** A signal by name (§5.8, §11.5) or by number (1–31). */
export type SignalName = keyof typeof SIGNAL_NUMBERS;

/** Options of `ProcessHandle.read` (PROTOCOL.md §5.6). */
export interface ReadOptions extends CallOptions {
  /** Return chunks after this seq (default 0). */
  readonly afterSeq?: number;
  /** Stop adding chunks past this many bytes (the first is always returned). */
  readonly maxBytes?: number;
  /** Wait up to this long for news (a long poll). */
  readonly waitMs?: number;
}

/** Options of `ProcessHandle.write`. */
export interface WriteOptions extends CallOptions {
  /**
   * Names the write (§5.7); a fresh one when absent. A write whose outcome is unknown (it timed out,
   * was aborted, or failed with `outcomeUnknown` or `connectionClosed`) can be sent again with the
   * same `writeId`: the server applies it once, and answers the repeat as it answered the first.
   */
  readonly writeId?: string;
}

const UTF8 = new TextEncoder();

/**
 * A started process, Local or Remote alike: its `events` in seq order (output, exited, closed,
 * each exactly once), reads of its log, stdin writes (each with a fresh `writeId`, so a write
 * repeated after a lost transport is applied once), signals and termination. Disposing it
 * terminates a process that has not closed and stops its events.
 */
export class ProcessHandle implements AsyncDisposable {
  readonly processId: string;
  readonly #backend: ExecBackend;
  readonly #stream: ProcessEventStream;
  readonly #unsubscribe: () => void;
  readonly #writePrefix = `${randomId()}-`;
  #writes = 0;
  #sandboxType: ProcessStartResult["sandboxType"] = "none";
  #disposed = false;

  /**
   * Subscribes to the process's notifications; `ExecService.start` creates handles. Throws -32600
   * ProcessExists while another handle still follows the same id, as the server would.
   */
  constructor(backend: ExecBackend, processId: string) {
    this.processId = processId;
    this.#backend = backend;
    this.#stream = new ProcessEventStream({
      readLog: (afterSeq, maxBytes) =>
        backend.call("process/read", { processId, afterSeq, maxBytes, waitMs: 0 }),
      // Nothing follows `closed`: the id's notifications need no route any more.
      onClosed: () => this.#unsubscribe(),
    });
    this.#unsubscribe = backend.subscribe(processId, {
      notification: (notification) => this.#stream.notification(notification),
      resumed: () => this.#stream.resync(),
      lost: (error) => this.#stream.fail(error),
    });
  }

  /** `"linuxSeccomp"` when the process runs sandboxed (§8.4). */
  get sandboxType(): ProcessStartResult["sandboxType"] {
    return this.#sandboxType;
  }

  /** Whether the process's `closed` event has arrived. */
  get closed(): boolean {
    return this.#stream.closed;
  }

  /** Output, `exited` and `closed` in seq order, each exactly once; iterate once. */
  get events(): AsyncIterable<ProcessEvent> {
    return this.#stream;
  }

  /** Records the start's result. */
  started(result: ProcessStartResult): void {
    this.#sandboxType = result.sandboxType;
    this.#stream.started();
  }

  /** Stops routing notifications here (the start failed, or the handle was disposed). */
  release(): void {
    this.#unsubscribe();
    this.#stream.end();
  }

  /** `process/read`: a page of the log (§5.6). */
  read(options: ReadOptions = {}): Promise<ProcessReadResult> {
    const { afterSeq, maxBytes, waitMs, ...call } = options;
    return this.#backend.call("process/read", {
      processId: this.processId,
      afterSeq: afterSeq ?? null,
      maxBytes: maxBytes ?? null,
      waitMs: waitMs ?? null,
    }, call);
  }

  /**
   * Writes to the process's stdin (a string as UTF-8); see §5.7 for the statuses. Each write has
   * its own `writeId` unless `options.writeId` names one, so that one sent again is applied once.
   */
  async write(data: Uint8Array | string, options: WriteOptions = {}): Promise<WriteStatus> {
    const bytes = typeof data === "string" ? UTF8.encode(data) : data;
    const { writeId = this.#writePrefix + String(++this.#writes), ...call } = options;
    const result = await this.#backend.call("process/write", {
      processId: this.processId,
      chunk: encodeBase64(bytes),
      writeId,
    }, call);
    return result.status;
  }

  /** Closes the process's stdin (§11.7). */
  async closeStdin(options: CallOptions = {}): Promise<CloseStdinStatus> {
    return (await this.#backend.call("process/closeStdin", { processId: this.processId }, options)).status;
  }

  /** Sends a signal to the process group (§5.8). */
  async signal(signal: SignalName | number, options: CallOptions = {}): Promise<void> {
    await this.#backend.call("process/signal", { processId: this.processId, signal }, options);
  }

  /** Kills the process group; true when it was still running (§5.9). */
  async terminate(options: CallOptions = {}): Promise<boolean> {
    return (await this.#backend.call("process/terminate", { processId: this.processId }, options)).running;
  }

  /** Sets a terminal process's window size (§11.3). */
  async resize(size: { cols: number; rows: number }, options: CallOptions = {}): Promise<void> {
    await this.#backend.call("process/resize", { processId: this.processId, ...size }, options);
  }

  /** Terminates the process unless it has closed, and ends `events`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      if (!this.#stream.closed) await this.terminate();
    } catch (error) {
      // A session that is gone (or a closed client) took the process with it.
      if (!(error instanceof ClientError)) throw error;
    } finally {
      this.release();
    }
  }
}
