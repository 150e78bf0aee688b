import { RpcError } from "../protocol/mod.ts";
import type { ProcessListEntry } from "../protocol/mod.ts";
import type { CallOptions, CallParams, ExecBackend } from "./exec_backend.ts";
import { randomId } from "./ids.ts";
import { ProcessHandle } from "./process_handle.ts";

/**
 * What `exec.start` takes: `process/start` params (PROTOCOL.md §5.1) with `processId` (a random
 * UUID), `env` (`{}`) and `tty` (false) optional. `cwd` and paths are the executor's, never
 * checked against this machine.
 */
export type StartRequest =
  & Omit<CallParams<"process/start">, "processId" | "env" | "tty">
  & Partial<Pick<CallParams<"process/start">, "processId" | "env" | "tty">>;

/** Starting and listing processes of an environment. */
export interface ExecService {
  /** Starts a process; its handle's `events` begin at seq 1. */
  start(request: StartRequest, options?: CallOptions): Promise<ProcessHandle>;
  /** The environment's processes, oldest first (§11.8). */
  list(options?: CallOptions): Promise<ProcessListEntry[]>;
}

/** `ExecService` over a backend: one implementation for Local and Remote. */
export class BackendExecService implements ExecService {
  readonly #backend: ExecBackend;

  constructor(backend: ExecBackend) {
    this.#backend = backend;
  }

  /** Subscribes to the new id first, then sends `process/start`. */
  async start(request: StartRequest, options: CallOptions = {}): Promise<ProcessHandle> {
    const processId = request.processId ?? randomId();
    // Subscribes first, so no notification of the new process is missed.
    const handle = new ProcessHandle(this.#backend, processId);
    try {
      handle.started(
        await this.#backend.call("process/start", {
          ...request,
          processId,
          env: request.env ?? {},
          tty: request.tty ?? false,
        }, options),
      );
      return handle;
    } catch (error) {
      handle.release();
      if (!(error instanceof RpcError)) {
        // Without the server's answer (an abort, a timeout, a lost transport) the process may have
        // started, under an id the caller may never have seen: it would run unreachable until the
        // session ends. Terminate waits for a start in progress and is harmless for an unknown id.
        this.#backend.call("process/terminate", { processId }).catch(() => {});
      }
      throw error;
    }
  }

  /** `process/list`. */
  async list(options: CallOptions = {}): Promise<ProcessListEntry[]> {
    return (await this.#backend.call("process/list", {}, options)).processes;
  }
}
