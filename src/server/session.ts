import type { LogChunk, ManagedProcess, ProcessSink } from "../process/mod.ts";
import { ProcessTable } from "../process/mod.ts";
import type { ProcessTableOptions, SandboxPlanner } from "../process/mod.ts";
import type { Runtime } from "../runtime/mod.ts";

/** Outbound backlog above which process output stops being read (PROTOCOL.md §5.12). */
export const BACKLOG_HIGH_BYTES = 8 * 1024 * 1024;
/** Backlog below which reading resumes. */
export const BACKLOG_LOW_BYTES = 1024 * 1024;

/** What a session needs from the connection it is attached to. */
export interface SessionPeer {
  /** Sends a notification whose params are already serialized. */
  notify(method: string, paramsJson: string): void;
  /** Unsent outbound bytes. */
  backlog(): number;
  /** Ends the peer's pending requests with the eviction error and closes it (§3.7). */
  evict(): void;
}

/** A session: it owns processes; connections attach to it and detach from it (§3). */
export class Session {
  readonly id: string;
  readonly processes: ProcessTable;
  #peer: SessionPeer | null = null;
  #lastPeer: SessionPeer | null = null;
  #gate: PromiseWithResolvers<void> | null = null;
  #detachTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    id: string,
    runtime: Runtime,
    deps: {
      options: ProcessTableOptions;
      planner: SandboxPlanner;
      serverEnv: Readonly<Record<string, string>>;
    },
  ) {
    this.id = id;
    const sink: ProcessSink = {
      output: (processId, chunk) => this.#sendOutput(processId, chunk),
      exited: (process, seq) => this.#sendExited(process, seq),
      closed: (processId, seq) => {
        this.#peer?.notify("process/closed", `{"processId":${JSON.stringify(processId)},"seq":${seq}}`);
      },
      flowReady: () => this.#gate?.promise ?? null,
    };
    this.processes = new ProcessTable(runtime, { ...deps, sink });
  }

  /** Whether a live connection is attached. */
  get attached(): boolean {
    return this.#peer !== null;
  }

  /** Attaches a connection; an earlier one that still has handlers running is evicted. */
  attach(peer: SessionPeer): void {
    this.cancelDetachTimer();
    const earlier = this.#lastPeer;
    this.#peer = peer;
    this.#lastPeer = peer;
    if (earlier !== null && earlier !== peer) earlier.evict();
  }

  /** Detaches `peer` if it is the attached one; output then flows at full speed (§5.12). */
  detach(peer: SessionPeer, ttlMs: number, onExpire: () => void): void {
    if (this.#peer !== peer) return;
    this.#peer = null;
    this.#openGate();
    this.#detachTimer = setTimeout(() => {
      this.#detachTimer = null;
      onExpire();
    }, ttlMs);
  }

  /** Stops the detach timer (resume, or shutdown). */
  cancelDetachTimer(): void {
    if (this.#detachTimer !== null) clearTimeout(this.#detachTimer);
    this.#detachTimer = null;
  }

  /** Re-checks the backlog after the attached connection drained (§5.12). */
  drained(peer: SessionPeer): void {
    if (this.#peer === peer && peer.backlog() < BACKLOG_LOW_BYTES) this.#openGate();
  }

  #sendOutput(processId: string, chunk: LogChunk): void {
    const peer = this.#peer;
    if (peer === null) return;
    peer.notify(
      "process/output",
      `{"processId":${
        JSON.stringify(processId)
      },"seq":${chunk.seq},"stream":"${chunk.stream}","chunk":"${chunk.chunk}"}`,
    );
    if (this.#gate === null && peer.backlog() > BACKLOG_HIGH_BYTES) {
      this.#gate = Promise.withResolvers<void>();
    }
  }

  #sendExited(process: ManagedProcess, seq: number): void {
    const timedOut = process.timedOut ? `,"timedOut":true` : "";
    this.#peer?.notify(
      "process/exited",
      `{"processId":${JSON.stringify(process.id)},"seq":${seq},"exitCode":${
        process.exitCode ?? 0
      },"sandboxDenied":${process.sandboxDenied}${timedOut}}`,
    );
  }

  #openGate(): void {
    const gate = this.#gate;
    this.#gate = null;
    gate?.resolve();
  }
}
