/**
 * The command that puts a child into its cgroups before it runs. Neither Bun.spawn nor
 * Deno.Command can run code between fork and exec, and a pid written into `cgroup.procs` after the
 * spawn leaves a window in which `sh -c 'setsid x &'` escapes. So the child is a tiny program that
 * writes its own pid into each `cgroup.procs` and then execs the requested one: everything the
 * program ever starts is born inside. That program is the join helper where the host has one
 * (`join_helper.ts`), else dash, else perl.
 */
import { access, constants, realpath } from "node:fs/promises";
import { perlExecArgs } from "../runtime/mod.ts";
import type { SpawnPlan } from "../runtime/mod.ts";

/** The programs that can do the joining, found once at start-up. */
export interface JoinTools {
  /**
   * The join helper (`join_helper.ts`), or null where this host has none: it keeps argv[0] and
   * the environment exactly and makes the child a session leader, at a fraction of dash's cost.
   */
  readonly helper: string | null;
  /** A POSIX shell (dash or busybox ash when the host has one). */
  readonly shell: string;
  /** Whether the shell hands its environment to an exec'd program unchanged (apart from PWD). */
  readonly shellKeepsEnv: boolean;
  /** perl, which sets argv[0] and the environment exactly, or null. */
  readonly perl: string | null;
}

/**
 * The shell route, `sh -c SCRIPT sh FILE… -- PWDSET PWD PATHDIR ARGV…`. It assigns no variable
 * except PWD and PATH, so no variable of the child's environment changes: dash exports PWD
 * whether or not it was given (so it is restored or removed), and a PATH set without being
 * inherited stays unexported (so a program found on the server's PATH is found by name without
 * giving the child a PATH).
 */
const JOIN_SCRIPT = 'while [ "$1" != -- ]; do ' +
  '{ echo $$ > "$1"; } 2>/dev/null || { echo "exec-server: cannot enter cgroup $1" >&2; exit 126; }; ' +
  "shift; done; " +
  'if [ "$2" = 1 ]; then PWD=$3; else unset PWD; fi; ' +
  '[ -z "$4" ] || PATH=$4; shift 4; exec "$@"';

/** Variables dash resets (PPID, OPTIND, IFS) whatever the environment says. */
const SHELL_OWNED = new Set(["PPID", "OPTIND", "IFS"]);
/** Names dash carries into an exec'd program's environment; it drops all others. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Finds the shell and perl; `shellKeepsEnv` holds for dash and busybox, not for bash. `helper` is
 * the join helper, when one has been installed and works.
 */
export async function findJoinTools(helper: string | null = null): Promise<JoinTools> {
  let shell = "/bin/sh";
  let shellKeepsEnv = false;
  for (const candidate of ["/bin/sh", "/usr/bin/dash", "/bin/dash"]) {
    const real = await executable(candidate);
    if (real === null) continue;
    const name = real.slice(real.lastIndexOf("/") + 1);
    if (name === "dash" || name === "busybox" || name === "ash") {
      shell = candidate;
      shellKeepsEnv = true;
      break;
    }
  }
  let perl: string | null = null;
  for (const candidate of ["/usr/bin/perl", "/bin/perl"]) {
    if ((await executable(candidate)) !== null) {
      perl = candidate;
      break;
    }
  }
  return { helper, shell, shellKeepsEnv, perl };
}

/**
 * The plan that joins `joins` and then runs `plan` as it would have run: same program, argv[0],
 * arguments, environment and cwd. `argv0Found` says that `plan.program` is what looking up
 * `plan.argv0` gave (PROTOCOL.md §5.2), so the shell's own lookup finds it again. The helper is
 * exact in every case; without it, the shell route costs one exec of dash, and perl (about three
 * times slower to start) runs only where the shell cannot be exact: any other argv[0], or a
 * variable dash would drop or reset.
 */
export function joinCommand(
  plan: SpawnPlan,
  joins: readonly string[],
  options: { tools: JoinTools; argv0Found: boolean },
): SpawnPlan {
  const { tools } = options;
  if (tools.helper !== null) {
    return {
      ...plan,
      program: tools.helper,
      args: [...joins, "--", plan.program, plan.argv0, ...plan.args],
      argv0: tools.helper,
      ownSession: true,
    };
  }
  const target = shellTarget(plan, options.argv0Found);
  const envFits = tools.shellKeepsEnv &&
    Object.keys(plan.env).every((name) => SHELL_NAME.test(name) && !SHELL_OWNED.has(name));
  if (tools.perl !== null && (target === null || !envFits)) {
    const [program, ...args] = perlExecArgs(tools.perl, plan, joins);
    return { ...plan, program: program ?? tools.perl, args, argv0: tools.perl, env: {} };
  }
  const pwd = plan.env["PWD"];
  const [name, pathDir] = target ?? [plan.program, ""];
  return {
    ...plan,
    program: tools.shell,
    args: [
      "-c",
      JOIN_SCRIPT,
      "sh",
      ...joins,
      "--",
      pwd === undefined ? "0" : "1",
      pwd ?? "",
      pathDir,
      name,
      ...plan.args,
    ],
    argv0: tools.shell,
  };
}

/**
 * What the shell's `exec` needs to reach `plan.program` under `plan.argv0`: the name to exec and
 * a PATH to find it on ("" = the child's own), or null when it cannot. A name with a slash was
 * resolved against cwd, where the shell runs too; a bare name was found on the child's PATH (the
 * shell searches it the same way) or, when the child has none, on the server's, so the shell gets
 * the program's directory instead.
 */
function shellTarget(plan: SpawnPlan, argv0Found: boolean): [string, string] | null {
  const { argv0, program } = plan;
  if (argv0 === program) return [argv0, ""];
  if (!argv0Found) return null;
  if (argv0.includes("/") || plan.env["PATH"] !== undefined) return [argv0, ""];
  const dir = program.slice(0, program.lastIndexOf("/")) || "/";
  return dir.includes(":") ? null : [argv0, dir];
}

/** The resolved path of an executable file, or null. */
async function executable(path: string): Promise<string | null> {
  try {
    await access(path, constants.X_OK);
    return await realpath(path);
  } catch {
    return null;
  }
}
