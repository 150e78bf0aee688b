/** One request waiting for a slot: granted a release, or refused with a reason. */
export interface Waiter {
  readonly grant: (release: () => void) => void;
  readonly refuse: (reason: unknown) => void;
}

/**
 * Puts a request at the end of `line` and resolves with the release it is granted; one whose
 * `signal` aborts first leaves the line and rejects with the signal's reason. The caller admits
 * waiters from the front.
 */
export function joinLine(line: Waiter[], signal: AbortSignal): Promise<() => void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const { promise, resolve, reject } = Promise.withResolvers<() => void>();
  const onAbort = (): void => {
    const index = line.indexOf(waiter);
    if (index !== -1) line.splice(index, 1);
    reject(signal.reason);
  };
  const waiter: Waiter = {
    grant: (release) => {
      signal.removeEventListener("abort", onAbort);
      resolve(release);
    },
    refuse: (reason) => {
      signal.removeEventListener("abort", onAbort);
      reject(reason);
    },
  };
  signal.addEventListener("abort", onAbort, { once: true });
  line.push(waiter);
  return promise;
}
