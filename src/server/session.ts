import { processClosedJson, processExitedJson } from "../protocol/mod.ts";
import type { LogChunk, ManagedProcess, ProcessSink } from "../process/mod.ts";
import { ProcessTable } from "../process/mod.ts";
import type { ProcessTableOptions, SandboxPlanner } from "../process/mod.ts";
import type { Runtime } from "../runtime/mod.ts";
import type { SessionContainment } from "../containment/mod.ts";

/** Outbound backlog above which process output stops being read (PROTOCOL.md §5.12). */
export const BACKLOG_HIGH_BYTES = 8 * 1024 * 1024;
/** Backlog below which reading resumes. */
export const BACKLOG_LOW_BYTES = 1024 * 1024;

/** What a session needs from the connection it is attached to. */
export interface SessionPeer {
  /** Sends a notification whose params are already serialized. */
  notify(method: string, paramsJson: string): void;
  /**
   * Sends a `process/output` notification; `bytes` are the chunk's (its base64 is `chunk.chunk`),
   * valid only during the call.
   */
  output(processId: string, chunk: LogChunk, bytes: Uint8Array): void;
  /** Unsent outbound bytes. */
  backlog(): number;
  /** Ends the peer's pending requests with the eviction error and closes it (§3.7). */
  evict(): void;
  /** The output gate has just closed on this peer's backlog. */
  congested(): void;
}

/** What waits for one process's `process/start` result. */
interface HeldNotifications {
  holds: number;
  readonly queue: Array<(peer: SessionPeer) => void>;
  /** Output bytes in `queue`. */
  bytes: number;
}

/** A session: it owns processes; connections attach to it and detach from it (§3). */
export class Session {
  readonly id: string;
  readonly processes: ProcessTable;
  #peer: SessionPeer | null = null;
  #lastPeer: SessionPeer | null = null;
  #gate: PromiseWithResolvers<void> | null = null;
  #detachTimer: ReturnType<typeof setTimeout> | null = null;
  /** Notifications held back per process id until its `process/start` result is sent (§5.5). */
  readonly #held = new Map<string, HeldNotifications>();
  /**
   * Output bytes in `#held`, counted with the peer's backlog: a start whose reply was slow (26–140
   * ms after the spawn on a loaded machine) otherwise let a flood be read into memory meanwhile,
   * 45–170 MiB past the bound.
   */
  #heldBytes = 0;

  constructor(
    id: string,
    runtime: Runtime,
    deps: {
      options: ProcessTableOptions;
      planner: SandboxPlanner;
      serverEnv: Readonly<Record<string, string>>;
      containment?: SessionContainment;
    },
  ) {
    this.id = id;
    const sink: ProcessSink = {
      output: (processId, chunk, bytes) => this.#sendOutput(processId, chunk, bytes),
      exited: (process, seq) => this.#sendExited(process, seq),
      closed: (processId, seq) => {
        const paramsJson = processClosedJson(processId, seq);
        this.#deliver(processId, (peer) => peer.notify("process/closed", paramsJson));
      },
      flowReady: () => this.#gate?.promise ?? null,
      delivering: () => this.#peer !== null,
    };
    this.processes = new ProcessTable(runtime, { ...deps, sink });
  }

  /** Whether the session's output is held back for its connection's backlog (§5.12). */
  get outputPaused(): boolean {
    return this.#gate !== null;
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
    if (this.#peer === peer) this.#reopenIfLow();
  }

  /**
   * Holds back the notifications of `processId` until the returned release is called: the
   * connection calls it right after sending the `process/start` result, which must come first
   * (§5.5) even when the child's output is read before the start's reply is on its way.
   */
  holdNotifications(processId: string): () => void {
    const entry = this.#held.get(processId) ?? { holds: 0, queue: [], bytes: 0 };
    entry.holds++;
    this.#held.set(processId, entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.holds--;
      if (entry.holds > 0) return;
      this.#held.delete(processId);
      this.#heldBytes -= entry.bytes;
      for (const send of entry.queue) {
        if (this.#peer !== null) send(this.#peer);
      }
      // The gate may have closed on the held bytes alone, and a peer that took them all at once
      // will report no drain.
      this.#reopenIfLow();
    };
  }

  /** Sends now, or queues while the process's notifications are held (`holdNotifications`). */
  #deliver(processId: string, send: (peer: SessionPeer) => void): void {
    const held = this.#held.get(processId);
    if (held === undefined) {
      if (this.#peer !== null) send(this.#peer);
    } else if (this.#peer !== null) {
      // Only an attached connection gets notifications; nothing is queued while detached (§3.6).
      held.queue.push(send);
    }
  }

  #sendOutput(processId: string, chunk: LogChunk, bytes: Uint8Array): void {
    const peer = this.#peer;
    if (peer === null) return;
    const held = this.#held.get(processId);
    if (held !== undefined) {
      // The pump reuses `bytes` once this returns; a held chunk keeps a copy.
      const copy = bytes.slice();
      held.queue.push((target) => target.output(processId, chunk, copy));
      held.bytes += copy.byteLength;
      this.#heldBytes += copy.byteLength;
    } else {
      peer.output(processId, chunk, bytes);
    }
    if (this.#gate === null && peer.backlog() + this.#heldBytes > BACKLOG_HIGH_BYTES) {
      this.#gate = Promise.withResolvers<void>();
      peer.congested();
    }
  }

  #sendExited(process: ManagedProcess, seq: number): void {
    const paramsJson = processExitedJson(process.id, {
      seq,
      exitCode: process.exitCode ?? 0,
      sandboxDenied: process.sandboxDenied,
      timedOut: process.timedOut,
      failure: process.failure,
    });
    this.#deliver(process.id, (peer) => peer.notify("process/exited", paramsJson));
  }

  /** Opens the gate once the peer's backlog and the held output are below the low mark. */
  #reopenIfLow(): void {
    const peer = this.#peer;
    if (peer !== null && peer.backlog() + this.#heldBytes < BACKLOG_LOW_BYTES) this.#openGate();
  }

  #openGate(): void {
    const gate = this.#gate;
    this.#gate = null;
    gate?.resolve();
  }
}
