/**
 * Runs one of the server's own images (the probe, the worker) to its end, the way the launcher
 * starts: in `/`, with exactly `env`, on an empty stdin or one that holds `input`.
 */
import { withinStepLimit } from "../containment/mod.ts";
import type { Runtime } from "../runtime/mod.ts";

/** What an image run printed and how it exited. */
export interface ImageRunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/**
 * Runs `argv` until it exits and its output ends; with `limitMs`, a run that takes longer, or that
 * `abort` ends first, has its process group killed and resolves with null; `input` is written to
 * its stdin, which then ends. Throws when it cannot start.
 */
export function runImage(
  runtime: Runtime,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<ImageRunResult>;
export function runImage(
  runtime: Runtime,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  limitMs: number,
  input?: Uint8Array,
  abort?: AbortSignal,
): Promise<ImageRunResult | null>;
export async function runImage(
  runtime: Runtime,
  [program = "", ...args]: readonly string[],
  env: Readonly<Record<string, string>>,
  limitMs?: number,
  input?: Uint8Array,
  abort?: AbortSignal,
): Promise<ImageRunResult | null> {
  const child = await runtime.spawn({
    program,
    args,
    argv0: program,
    cwd: "/",
    env: { ...env },
    stdin: input === undefined ? "null" : "pipe",
  });
  const stdin = child.stdin;
  if (input !== undefined && stdin !== null) {
    // A run that ends without reading it all breaks the pipe: its exit tells what happened.
    void stdin.write(input).then(() => stdin.close()).catch(() => {});
  }
  const finished = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ])
    .then(([stdout, stderr, status]) => ({ stdout, stderr, code: status.code }));
  if (limitMs === undefined) return await finished;
  // Its output may outlast it (a descendant holds the pipes): the group then goes only while the
  // number is not someone else's (`signalGroup`).
  return await withinStepLimit(runtime, child, finished, limitMs, abort);
}
