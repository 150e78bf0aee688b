import type { z } from "zod";
import { ErrorCode, METHODS, RpcError } from "../protocol/mod.ts";
import type { MethodName } from "../protocol/mod.ts";
import type { Routes } from "../rpc/mod.ts";
import { withCallOptions } from "../client/mod.ts";
import type { CallOptions, CallResult } from "../client/mod.ts";

/** Each method's result schema, seen as producing that method's result. */
const RESULTS: { readonly [M in MethodName]: { readonly result: z.ZodType<CallResult<M>> } } = METHODS;

/**
 * Runs `method` in this process as the server would run it for a request: params parsed by the
 * method's schema (-32602 naming the member), the same handler, the result checked by the same
 * schema, and any error that is not an RpcError answered as -32603 `internal error`. So a Local
 * call fails exactly like the Remote one.
 */
export function dispatchLocally<C, M extends MethodName>(
  routes: Routes<C>,
  call: { method: M; params: unknown; options: CallOptions; context: (signal: AbortSignal) => C },
): Promise<CallResult<M>> {
  const { method, params, options, context } = call;
  return withCallOptions(method, options, async (signal) => {
    const route = routes.get(method);
    if (route === undefined) {
      throw new RpcError(ErrorCode.MethodNotFound, "MethodNotFound", `unknown method ${method}`);
    }
    try {
      // Dispatch runs the handler synchronously up to its first await, as the server's does.
      const result = await route.run(params, context(signal ?? NEVER));
      return RESULTS[method].result.parse(result);
    } catch (error) {
      if (error instanceof RpcError) throw error;
      throw new RpcError(ErrorCode.Internal, "Internal", "internal error", { cause: error });
    }
  });
}

/** The signal of a call that nothing cancels. */
const NEVER = new AbortController().signal;
