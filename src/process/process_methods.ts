import { processReadResultJson } from "../protocol/mod.ts";
import type { MethodName, METHODS } from "../protocol/mod.ts";
import { withKnownJson } from "../rpc/mod.ts";
import type { Handlers } from "../rpc/mod.ts";
import type { ProcessTable } from "./process_table.ts";

/** The process methods of the wire's method table (PROTOCOL.md §4.2). */
export type ProcessMethodShapes = Pick<typeof METHODS, Extract<MethodName, `process/${string}`>>;

/** A `process/list` of at most this many processes does not wait for room (§5.12). */
export const LIST_WITHOUT_ROOM = 64;

/** A longer `process/list` waits for a slot among the server's large replies past this much JSON. */
export const SMALL_LIST_BYTES = 1_048_576;

/** What a process method runs against: one session's table, and the request's cancellation. */
export interface ProcessMethodContext {
  readonly processes: ProcessTable;
  readonly signal: AbortSignal;
  /**
   * Waits until the connection has room for a large reply, then for a slot among the server's
   * large replies (PROTOCOL.md §5.12): `turn` then `slot`. Absent: no wait.
   */
  readonly room?: () => Promise<void>;
  /** Waits for the connection's own turn for a large reply: one at a time, its unsent data low. */
  readonly turn?: () => Promise<void>;
  /** Waits for a slot among the whole server's large replies; after `turn`. */
  readonly slot?: () => Promise<void>;
}

/**
 * The process methods on a `ProcessTable`, with their wire results. The server runs them for a
 * session and the Local environment for its own table, so both answer alike. Each calls the table
 * synchronously, so `process/start` registers its id at dispatch (§2.5).
 */
export const PROCESS_HANDLERS: Handlers<ProcessMethodShapes, ProcessMethodContext> = {
  "process/start": (params, { processes }) => processes.start(params),
  // The context itself: its signal is made only if the read waits. The reply splices the text in.
  // An unknown id throws here, so its error answer goes out in the request's own turn.
  "process/read": (params, context) => {
    context.processes.requireKnown(params.processId);
    return context.processes.read(params, context).then((result) =>
      withKnownJson(result, processReadResultJson(result))
    );
  },
  "process/write": async (params, { processes }) => ({ status: await processes.write(params) }),
  "process/signal": async (params, { processes }) => {
    await processes.signal(params);
    return {};
  },
  "process/terminate": async (params, { processes }) => ({
    running: await processes.terminate(params.processId),
  }),
  "process/resize": async (params, { processes }) => {
    await processes.resize(params);
    return {};
  },
  "process/closeStdin": async (params, { processes }) => ({
    status: await processes.closeStdin(params.processId),
  }),
  // A large reply (a row per process, up to --max-processes-per-session) whose making reads two
  // cgroup files per running process: pipelined lists of 1,000 processes, when they read them
  // through the thread pool, each held 2,000 reads in flight, and fifty of them took a Deno server
  // to 925 MB. A long list takes its connection's turn as the other large replies do, and is made
  // in turns that let other connections in (`listRows`); it waits for a slot among the server's
  // large replies only once its rows pass `SMALL_LIST_BYTES` (a slot held by clients that read
  // nothing kept a list of 65 processes waiting for many seconds). A short one is answered at
  // once, as cheap as any small reply.
  "process/list": async (_params, { processes, room, turn, slot }) => {
    if (processes.size <= LIST_WITHOUT_ROOM) return { processes: await processes.list() };
    if (turn === undefined || slot === undefined) {
      await room?.();
      return { processes: await processes.list() };
    }
    await turn();
    return { processes: await processes.list({ heldBytes: SMALL_LIST_BYTES, wait: slot }) };
  },
};
