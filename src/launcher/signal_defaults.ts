/**
 * The signal dispositions a sandboxed program starts with.
 * @module
 */
import type { Sys } from "./sys.ts";

/** SIGKILL and SIGSTOP, which no process can ignore or catch. */
const UNCHANGEABLE_SIGNALS = new Set([9n, 19n]);
/** The highest signal number on Linux (SIGRTMAX). */
const LAST_SIGNAL = 64n;
/** `sa_handler` SIG_IGN, at the start of the kernel's `struct sigaction` on x86-64 and aarch64. */
const SIG_IGN = 1n;
/** The kernel's `struct sigaction` (handler, flags, restorer, mask) and its `sigset_t`, in bytes. */
const SIGACTION_BYTES = 32;
const SIGSET_BYTES = 8n;

/**
 * Sets every signal the launcher ignores back to its default, just before the program's execve,
 * which keeps an ignored signal ignored. The launcher is a Bun or Deno process, and both runtimes
 * ignore SIGPIPE (Bun SIGXFSZ too): a sandboxed `yes | head` got EPIPE and wrote "Broken pipe"
 * where everywhere else it dies quietly. Signals the runtime catches need nothing: exec resets
 * those. Between this and the execve the launcher writes nothing that SIGPIPE could cut short
 * but its report of a failed execve.
 */
export function resetIgnoredSignals(sys: Sys): void {
  const current = new Uint8Array(SIGACTION_BYTES);
  const view = new DataView(current.buffer);
  const byDefault = new Uint8Array(SIGACTION_BYTES);
  for (let signal = 1n; signal <= LAST_SIGNAL; signal++) {
    if (UNCHANGEABLE_SIGNALS.has(signal)) continue;
    if (sys.try("rt_sigaction", [signal, 0n, sys.buffer(current), SIGSET_BYTES]) !== 0n) continue;
    if (view.getBigUint64(0, true) !== SIG_IGN) continue;
    sys.try("rt_sigaction", [signal, sys.buffer(byDefault), 0n, SIGSET_BYTES]);
  }
}
