/**
 * How a child is started on a terminal whose master this process holds (both runtimes): a
 * detached `/bin/sh` (a new session) opens the slave as fd 0/1/2, which makes it the controlling
 * terminal, and execs the program. Runtime-neutral: the adapters spawn it their own way.
 */
import { statSync } from "node:fs";
import { perlExecArgs } from "./perl_exec.ts";
import type { SpawnPlan } from "./runtime.ts";

/** The absolute path of the first executable candidate, or null (once, at start-up). */
export function findExecutable(candidates: readonly string[]): string | null {
  for (const candidate of candidates) {
    try {
      const info = statSync(candidate);
      if (info.isFile() && (info.mode & 0o111) !== 0) return candidate;
    } catch {
      // Not there: try the next one.
    }
  }
  return null;
}

/**
 * Opens the slave as fd 0/1/2 after the setsid of a detached spawn (so it becomes the controlling
 * terminal), restores the caller's `PWD` (dash rewrites or adds it), and execs the program.
 * dash has no `exec -a`: a different argv[0] is set by perl (see `ptyLaunchArgs`). A ^C typed
 * before the exec is caught by `sh -c` and lost.
 */
const LAUNCH_SCRIPT = 'exec 0<>"$1" 1>&0 2>&0 || exit 126; ' +
  'if [ "$2" = 1 ]; then PWD=$3; else unset PWD; fi; shift 3; exec "$@"';

/** The helper programs a terminal launch may use, where the host has them. */
export interface PtyTools {
  readonly perl: string | null;
  /** env(1), which starts perl with an empty environment. */
  readonly env: string | null;
}

/** The argv after `/bin/sh` that starts `plan` on the terminal at `ptsPath`. */
export function ptyLaunchArgs(plan: SpawnPlan, ptsPath: string, tools: PtyTools): string[] {
  // dash has no `exec -a`: a different argv[0] goes through perl, started by env(1) with an empty
  // environment so that no PERL5* variable of the child's applies; perl then sets exactly plan.env.
  const target = plan.argv0 !== plan.program && tools.perl !== null && tools.env !== null
    ? [tools.env, "-i", ...perlExecArgs(tools.perl, plan)]
    : [plan.program, ...plan.args];
  const pwd = plan.env["PWD"];
  return ["-c", LAUNCH_SCRIPT, "sh", ptsPath, pwd === undefined ? "0" : "1", pwd ?? "", ...target];
}
