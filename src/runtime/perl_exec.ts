/**
 * An exact exec through perl: the child gets exactly the requested argv[0] and environment, which
 * neither `Deno.Command` nor a POSIX shell can give (dash has no `exec -a` and drops or rewrites
 * some variables). Runtime-neutral: it only builds a command line.
 */
import type { SpawnPlan } from "./runtime.ts";

/**
 * Writes the process's pid into each of the first `$ARGV[0]` files (the cgroups it must join
 * before the program runs), then execs `$ARGV[0]` with argv[0] `$ARGV[1]`, the environment given
 * as `$ARGV[2]` NAME=VALUE pairs and the remaining arguments. perl itself starts with an empty
 * environment, so no `PERL5*` variable of the child's can change what it does; `exec {PROGRAM}
 * LIST` never uses a shell.
 */
const PERL_EXEC = "my $joins = shift @ARGV; for (1 .. $joins) { my $file = shift @ARGV; my $out; " +
  "unless (open($out, '>', $file) and print {$out} $$ and close($out)) " +
  '{ print STDERR "exec-server: cannot enter cgroup $file: $!\\n"; exit 126; } } ' +
  "my ($program, $argv0, $count) = splice(@ARGV, 0, 3); %ENV = (); " +
  "for (1 .. $count) { my $pair = shift @ARGV; my $at = index($pair, '='); " +
  "$ENV{substr($pair, 0, $at)} = substr($pair, $at + 1); } " +
  "exec { $program } $argv0, @ARGV; exit 127;";

/**
 * The perl command line that joins `joins` (cgroup.procs files), then execs `plan.program` with
 * `plan.argv0` and exactly `plan.env`. Start it with an empty environment.
 */
export function perlExecArgs(perl: string, plan: SpawnPlan, joins: readonly string[] = []): string[] {
  const pairs = Object.entries(plan.env).map(([name, value]) => `${name}=${value}`);
  return [
    perl,
    "-e",
    PERL_EXEC,
    String(joins.length),
    ...joins,
    plan.program,
    plan.argv0,
    String(pairs.length),
    ...pairs,
    ...plan.args,
  ];
}
