/**
 * Starts Deno's children with every signal at its default action.
 *
 * A signal ignored when the server starts (SIGQUIT for a script's background job, SIGHUP under
 * `nohup`) stays ignored across every fork and exec, so a child would shrug off
 * `process/signal` `quit` or `hangup` and the SIGHUP a terminal's group gets when its leader
 * exits. Bun's spawn resets every signal; Deno's resets SIGPIPE only. A signal the server catches
 * instead is reset by exec, so the server takes each signal it found ignored with a handler that
 * does nothing: for the server that is still ignoring it. Not so SIGTTIN and SIGTTOU: a background
 * server whose terminal has `tostop` writes to it only while SIGTTOU is ignored (caught, the signal
 * comes back at every restart of the write), and a child meets them only through a terminal, where
 * a job-control shell sets them itself.
 * @module
 */
import { constants } from "node:os";
import { signalsInMask } from "./signal_mask.ts";

/**
 * Left as they are: SIGPIPE, which Deno ignores itself and resets in every child, and SIGTTIN and
 * SIGTTOU (above).
 */
const LEFT_IGNORED = new Set([13, 21, 22]);

/**
 * Catches, with a handler that does nothing, every standard signal this process ignores but those
 * `LEFT_IGNORED`; returns the names it now catches. A signal Deno will not listen to stays ignored.
 */
export function catchIgnoredSignals(): string[] {
  let status: string;
  try {
    status = Deno.readTextFileSync("/proc/self/status");
  } catch {
    return [];
  }
  const hex = /^SigIgn:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (hex === undefined) return [];
  const names = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name]));
  const caught: string[] = [];
  for (const signal of signalsInMask(hex)) {
    const name = names.get(signal);
    if (LEFT_IGNORED.has(signal) || name === undefined) continue;
    try {
      Deno.addSignalListener(name as Deno.Signal, () => {});
      caught.push(name);
    } catch {
      // Deno refuses a few signals (SIGILL, SIGFPE, SIGSEGV): those stay as they are.
    }
  }
  return caught;
}
