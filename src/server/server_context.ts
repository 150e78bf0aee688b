import type { FsParams, FsRunner, LargeWait } from "../fs/mod.ts";
import type { FsReadDirectoryResult, FsReadFileResult, FsWalkResult } from "../protocol/mod.ts";
import type { EnvironmentInfo, MethodSpec } from "../protocol/mod.ts";
import type { FramePayload, Routes } from "../rpc/mod.ts";
import type { MethodContext } from "./handlers.ts";
import type { Logger } from "./logger.ts";
import type { OutboundBudget } from "./outbound_budget.ts";
import type { ReplyGate } from "./reply_gate.ts";
import type { SessionRegistry } from "./session_registry.ts";
import type { QuietRelease } from "./quiet_release.ts";

/** The fs side of one connection: its file handles and routing (filled in by the fs service). */
export interface FsPort extends FsRunner {
  /** `fs/readFile`, holding at most `large.heldBytes` of the file until `large.wait()` resolves. */
  readFile(
    params: FsParams["fs/readFile"],
    signal: AbortSignal,
    large?: LargeWait,
  ): Promise<FsReadFileResult>;
  /** `fs/readDirectory` within a small reply, else `LargeListing` (`FsConnection.readDirectorySmall`). */
  readDirectorySmall(
    params: FsParams["fs/readDirectory"],
    signal: AbortSignal,
  ): Promise<FsReadDirectoryResult>;
  /** `fs/walk` within a small reply, else `LargeListing` (`FsConnection.walkSmall`). */
  walkSmall(params: FsParams["fs/walk"], signal: AbortSignal): Promise<FsWalkResult>;
  /** `fs/readFile` as the file's bytes, for a connection that takes binary frames (§11.12). */
  readFilePayload(
    params: FsParams["fs/readFile"],
    signal: AbortSignal,
    large?: LargeWait,
  ): Promise<FramePayload>;
  /** Closes the connection's file handles. */
  close(): Promise<void>;
}

/** Connection-level limits. */
export interface ConnectionOptions {
  readonly maxInflightRequests: number;
  /** The largest message; also what a connection may hold unread while its replies wait. */
  readonly maxMessageBytes: number;
  /** The largest reply; one over it is refused with -32001 in its place. */
  readonly maxReplyBytes: number;
}

/** What every connection shares: the registry, the routes, fs, environment info, logs. */
export interface ServerContext {
  readonly registry: SessionRegistry;
  /** Every method, bound to the server's handlers. */
  readonly routes: Routes<MethodContext, MethodSpec>;
  readonly environmentInfo: EnvironmentInfo;
  readonly options: ConnectionOptions;
  readonly log: Logger;
  /** Counts replies for `/metrics`. */
  readonly countReply: (errorCode: number | null) => void;
  openFsConnection(sessionId: string): FsPort;
  /** The cap on unsent data across connections (§5.12). */
  readonly outbound: OutboundBudget;
  /** The large replies produced at once across connections (§5.12). */
  readonly replyGate: ReplyGate;
  /** Counts a connection cut off for not reading (for `/metrics`). */
  readonly countCutOff: () => void;
  /** Counts the messages in and out, and releases memory once a burst of them is over. */
  readonly traffic: Pick<QuietRelease, "add">;
  /** Asks the runtime to give garbage back to the system (at most once a second). */
  releaseMemory(): void;
  /** Whether the release after a large reply waits for the reply to leave (`Runtime.releaseAfterSending`). */
  readonly releaseAfterSending: boolean;
  /** No client is connected any more: a release that waits out its second runs now. */
  releaseDeferredMemory(): void;
}
