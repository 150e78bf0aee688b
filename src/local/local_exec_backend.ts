import { SubscriberTable } from "../client/mod.ts";
import type {
  CallOptions,
  CallParams,
  CallResult,
  ExecBackend,
  ExecMethod,
  ProcessSubscriber,
} from "../client/mod.ts";
import { METHODS } from "../protocol/mod.ts";
import { PROCESS_HANDLERS, ProcessTable } from "../process/mod.ts";
import type { ProcessMethodContext, ProcessTableOptions, SandboxPlanner } from "../process/mod.ts";
import { bindHandlers } from "../rpc/mod.ts";
import type { Runtime } from "../runtime/mod.ts";
import { dispatchLocally } from "./local_dispatch.ts";

const ROUTES = bindHandlers(METHODS, PROCESS_HANDLERS);

/**
 * Processes of this machine: one `ProcessTable` (the server's, for one session) run through the
 * server's process handlers, its events handed to the process's subscriber as notifications.
 */
export class LocalExecBackend implements ExecBackend {
  readonly table: ProcessTable;
  readonly #subscribers = new SubscriberTable();

  constructor(
    runtime: Runtime,
    deps: {
      options: ProcessTableOptions;
      planner: SandboxPlanner;
      serverEnv: Readonly<Record<string, string>>;
    },
  ) {
    const subscribers = this.#subscribers;
    this.table = new ProcessTable(runtime, {
      ...deps,
      sink: {
        // The pump reuses `bytes` once this returns; the event keeps a copy.
        output: (processId, chunk, bytes) =>
          subscribers.deliver({
            method: "process/output",
            params: { processId, seq: chunk.seq, stream: chunk.stream },
            data: bytes.slice(),
          }),
        exited: (process, seq) =>
          subscribers.deliver({
            method: "process/exited",
            params: {
              processId: process.id,
              seq,
              exitCode: process.exitCode ?? 0,
              sandboxDenied: process.sandboxDenied,
              ...(process.timedOut ? { timedOut: true } : {}),
            },
          }),
        closed: (processId, seq) =>
          subscribers.deliver({ method: "process/closed", params: { processId, seq } }),
        // Events go to in-process queues, which bound themselves (see ProcessEventStream).
        flowReady: () => null,
        // In-process events count towards no quiet release: a large stream's close releases itself.
        delivering: () => false,
      },
    });
  }

  /** Runs a process method on the table, as the server runs it for a request. */
  call<M extends ExecMethod>(
    method: M,
    params: CallParams<M>,
    options: CallOptions = {},
  ): Promise<CallResult<M>> {
    return dispatchLocally(ROUTES, {
      method,
      params,
      options,
      context: (signal): ProcessMethodContext => ({ processes: this.table, signal }),
    });
  }

  /** Routes `processId`'s events to `subscriber`. */
  subscribe(processId: string, subscriber: ProcessSubscriber): () => void {
    return this.#subscribers.subscribe(processId, subscriber);
  }
}
