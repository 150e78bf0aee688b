/**
 * Setting a child's argv[0] on Deno without a fork: `Deno.Command` has no argv0 option, and the
 * node:child_process route that has one forks (30 ms per spawn once the server holds 300 MB).
 */
import type { SpawnPlan } from "./runtime.ts";

/**
 * Execs `$ARGV[0]` with argv[0] `$ARGV[1]`, the environment given as `$ARGV[2]` NAME=VALUE pairs
 * and the remaining arguments. perl itself starts with an empty environment, so no `PERL5*`
 * variable of the child's can change what it does; `exec {PROGRAM} LIST` never uses a shell.
 */
const PERL_EXEC = "my ($program, $argv0, $count) = splice(@ARGV, 0, 3); %ENV = (); " +
  "for (1 .. $count) { my $pair = shift @ARGV; my $at = index($pair, '='); " +
  "$ENV{substr($pair, 0, $at)} = substr($pair, $at + 1); } " +
  "exec { $program } $argv0, @ARGV; exit 127;";

/** The perl command line that execs `plan.program` with `plan.argv0` and exactly `plan.env`. */
export function perlExecArgs(perl: string, plan: SpawnPlan): string[] {
  const pairs = Object.entries(plan.env).map(([name, value]) => `${name}=${value}`);
  return [perl, "-e", PERL_EXEC, plan.program, plan.argv0, String(pairs.length), ...pairs, ...plan.args];
}

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
