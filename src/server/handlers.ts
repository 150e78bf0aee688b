import type {
  ProcessIdParams,
  ProcessReadParams,
  ProcessResizeParams,
  ProcessSignalParams,
  ProcessStartParams,
  ProcessWriteParams,
} from "../protocol/mod.ts";
import { ErrorCode, RpcError } from "../protocol/mod.ts";
import type { Session } from "./session.ts";
import type { FsPort, ServerContext } from "./server_context.ts";

/** What a method handler sees. */
export interface MethodContext {
  readonly session: Session;
  readonly context: ServerContext;
  readonly fs: FsPort | null;
  readonly signal: AbortSignal;
}

/**
 * Runs a method whose params are already parsed by its schema (the table guarantees the casts).
 * Synchronous up to the service's first await, so `process/start` registers its id at dispatch.
 */
export function runMethod(method: string, params: unknown, ctx: MethodContext): Promise<unknown> {
  const processes = ctx.session.processes;
  // Each cast holds because the connection parsed `params` with this method's schema.
  switch (method) {
    case "environment/info":
      return Promise.resolve(ctx.context.environmentInfo);
    case "process/start":
      return processes.start(params as ProcessStartParams);
    case "process/read":
      return processes.read(params as ProcessReadParams, ctx.signal);
    case "process/write":
      return processes.write(params as ProcessWriteParams).then((status) => ({ status }));
    case "process/signal":
      return processes.signal(params as ProcessSignalParams).then(() => ({}));
    case "process/terminate":
      return processes.terminate((params as ProcessIdParams).processId).then((running) => ({ running }));
    case "process/resize":
      return processes.resize(params as ProcessResizeParams).then(() => ({}));
    case "process/closeStdin":
      return processes.closeStdin((params as ProcessIdParams).processId).then((status) => ({ status }));
    case "process/list":
      return processes.list().then((list) => ({ processes: list }));
    default:
      if (ctx.fs !== null && method.startsWith("fs/")) return ctx.fs.call(method, params, ctx.signal);
      throw new RpcError(ErrorCode.MethodNotFound, "MethodNotFound", `unknown method ${method}`);
  }
}
