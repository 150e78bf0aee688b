import type { StreamName } from "../protocol/mod.ts";

/** Output of a process: 1 to 65,536 bytes of one stream (chunk boundaries mean nothing). */
export interface OutputEvent {
  readonly type: "output";
  readonly seq: number;
  readonly stream: StreamName;
  readonly data: Uint8Array;
}

/** The process exited; output may still follow (PROTOCOL.md §5.4). */
export interface ExitedEvent {
  readonly type: "exited";
  readonly seq: number;
  /** 0–255, or 128 + N after a death by signal N. */
  readonly exitCode: number;
  readonly sandboxDenied: boolean;
  /** `timeoutMs` killed it (ext §11.4). */
  readonly timedOut: boolean;
}

/** Every output stream has ended: the last event of a process. */
export interface ClosedEvent {
  readonly type: "closed";
  readonly seq: number;
}

/**
 * Output the server's log dropped (§5.4 retention) before this handle could fetch it, so the
 * stream has a hole here. `droppedBytes` is the server's count for the process (§11.6).
 */
export interface DroppedEvent {
  readonly type: "dropped";
  readonly droppedBytes: number;
}

/** What a process handle's `events` yields, in seq order. */
export type ProcessEvent = OutputEvent | ExitedEvent | ClosedEvent | DroppedEvent;
