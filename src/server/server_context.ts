import type { EnvironmentInfo, MethodSpec } from "../protocol/mod.ts";
import type { Logger } from "./logger.ts";
import type { SessionRegistry } from "./session_registry.ts";

/** The fs side of one connection: its file handles and routing (filled in by the fs service). */
export interface FsPort {
  call(method: string, params: unknown, signal: AbortSignal): Promise<unknown>;
  /** Closes the connection's file handles. */
  close(): Promise<void>;
}

/** Connection-level limits. */
export interface ConnectionOptions {
  readonly maxInflightRequests: number;
}

/** What every connection shares: the registry, the method table, fs, environment info, logs. */
export interface ServerContext {
  readonly registry: SessionRegistry;
  readonly methods: ReadonlyMap<string, MethodSpec>;
  readonly environmentInfo: EnvironmentInfo;
  readonly options: ConnectionOptions;
  readonly log: Logger;
  /** Counts replies for `/metrics`. */
  readonly countReply: (errorCode: number | null) => void;
  openFsConnection(sessionId: string): FsPort;
}
