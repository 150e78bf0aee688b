import { ClientError } from "./client_error.ts";
import type { CallOptions } from "./exec_backend.ts";

/**
 * Runs one call under its options: `run` gets the combined signal (the caller's, and the
 * `timeoutMs` deadline), the call rejects as soon as that signal aborts, and a call the deadline
 * ended rejects with `ClientError` `timeout`.
 */
export async function withCallOptions<T>(
  method: string,
  options: CallOptions,
  run: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  const timeout = options.timeoutMs === undefined ? null : AbortSignal.timeout(options.timeoutMs);
  const signals = [options.signal, timeout].filter((signal): signal is AbortSignal => signal != null);
  const signal = signals.length === 0 ? undefined : AbortSignal.any(signals);
  try {
    if (signal === undefined) return await run(undefined);
    signal.throwIfAborted();
    const aborted = Promise.withResolvers<never>();
    const onAbort = (): void => aborted.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.race([run(signal), aborted.promise]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  } catch (error) {
    if (timeout?.aborted === true && error === timeout.reason) {
      throw new ClientError("timeout", `${method} timed out after ${options.timeoutMs} ms`, { cause: error });
    }
    throw error;
  }
}
