/**
 * Finding the helpers that set a child's argv[0] on Deno without a fork (`perl_exec.ts`):
 * `Deno.Command` has no argv0 option, and the node:child_process route that has one forks (30 ms
 * per spawn once the server holds 300 MB).
 */

/** The absolute path of the first executable candidate, or null. */
export function findExecutable(candidates: readonly string[]): string | null {
  for (const candidate of candidates) {
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return candidate;
    } catch {
      // Not there: try the next one.
    }
  }
  return null;
}
