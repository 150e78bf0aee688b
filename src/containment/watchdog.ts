/**
 * The watchdog: a small shell that outlives the server by a moment and kills what the server
 * started once the server is gone, however it died (SIGKILL and crashes included). It holds the
 * read end of a pipe whose write end only the server holds (runtime pipes are close-on-exec, so
 * no child inherits it); the kernel closes that end when the server dies, and the watchdog acts
 * at end of file. PR_SET_PDEATHSIG is no alternative: it fires when the runtime thread that
 * forked a child exits, and both runtimes spawn from thread pools whose idle threads do exit.
 */
import type { Runtime, StdinSink } from "../runtime/mod.ts";

/**
 * `sh -c SCRIPT exec-server-watchdog cgroup ROOT…` kills the unified ROOT (everything below it),
 * waits up to 5 s for it to empty, and removes every ROOT tree. `… groups` reads `+PGID`,
 * `=PGID START` and `-PGID` lines and kills the process groups still listed. It ignores the
 * signals a terminal or a service manager sends the server's group, so it is there when the
 * server falls.
 *
 * A group's leader may have been reaped long before its group is taken off the list (background
 * jobs hold its output), and the kernel hands the number out again once no process uses it as
 * pid, group or session; every child the server starts leads a group, so the new carrier is often
 * another client's. So the server follows `+PGID` with the leader's start time (`/proc/PID/stat`
 * field 22; 0 when the leader was gone already), and the watchdog kills a group whose start time
 * it has only while the number is carried by that leader or by no process at all (then the group
 * holds only what the leader left). It reads each stat with `cat`: sh's `read` takes a file byte
 * by byte, and a process that is exec'ing changes its stat between two bytes. A group with a start
 * time may be a sandbox's: every process whose mount namespace has that launch's root
 * (`sandboxMountSource`, pid and start time) is killed too, wherever it went in the process tree.
 * Each thread's table is read, not only each process's: a process whose main thread ended alone
 * has a zombie leader whose own `mountinfo` cannot be read while its other threads run on.
 */
export const WATCHDOG_SCRIPT = `exec >/dev/null 2>&1
trap '' HUP INT TERM
mode=$1; shift
if [ "$mode" = groups ]; then
  groups=' '
  while read -r line; do
    case $line in
      +*) groups="$groups\${line#+}:u " ;;
      =*) set -- \${line#=}; case $groups in *" $1:"*) groups="\${groups%% "$1":*} \${groups#* "$1":* }$1:$2 " ;; esac ;;
      -*) pg=\${line#-}; case $groups in *" $pg:"*) groups="\${groups%% "$pg":*} \${groups#* "$pg":* }" ;; esac ;;
    esac
  done
  for entry in $groups; do
    pg=\${entry%%:*}
    if [ "\${entry#*:}" != u ]; then
      killed=' '
      for file in $(grep -l -F " exec-server-sandbox:$pg:\${entry#*:} " /proc/[0-9]*/task/[0-9]*/mountinfo); do
        file=\${file#/proc/}
        case $killed in *" \${file%%/*} "*) continue ;; esac
        killed="$killed\${file%%/*} "
        kill -9 "\${file%%/*}"
      done
      stat=$(cat "/proc/$pg/stat" 2>/dev/null)
      set -- \${stat##*) }
      if [ $# -ge 20 ]; then shift 19; [ "$1" = "\${entry#*:}" ] || continue; fi
    fi
    kill -9 -"$pg"
  done
  exit 0
fi
while read -r line; do :; done
[ -d "$1" ] || exit 0
echo 1 > "$1/cgroup.kill"
i=0
while [ $i -lt 100 ]; do
  populated=1
  while read -r key value; do [ "$key" = populated ] && populated=$value; done < "$1/cgroup.events"
  [ "$populated" = 0 ] && break
  sleep 0.05
  i=$((i + 1))
done
for root do rmdir "$root"/*/*/ "$root"/*/ "$root"; done
`;

/** What the watchdog cleans up when the server is gone. */
export type WatchdogDuty =
  | { readonly kind: "cgroup"; readonly roots: readonly string[] }
  | { readonly kind: "groups" };

/** The running watchdog; `track` and `untrack` feed it process groups in `groups` mode. */
export class Watchdog {
  readonly #stdin: StdinSink;
  readonly #onError: (error: unknown) => void;

  private constructor(stdin: StdinSink, onError: (error: unknown) => void) {
    this.#stdin = stdin;
    this.#onError = onError;
  }

  /** Starts the watchdog with `shell`; its write end stays open for the server's whole life. */
  static async start(
    runtime: Runtime,
    options: { shell: string; duty: WatchdogDuty; onError: (error: unknown) => void },
  ): Promise<Watchdog> {
    const { shell, duty } = options;
    const child = await runtime.spawn({
      program: shell,
      args: [
        "-c",
        WATCHDOG_SCRIPT,
        "exec-server-watchdog",
        duty.kind,
        ...(duty.kind === "cgroup" ? duty.roots : []),
      ],
      argv0: shell,
      cwd: "/",
      env: { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" },
      stdin: "pipe",
    });
    // It writes nothing: release the server's ends of its output pipes.
    await Promise.all([child.stdout.cancel(), child.stderr.cancel()]);
    if (child.stdin === null) throw new TypeError("the watchdog has no stdin");
    void child.exited.then((status) =>
      options.onError(new Error(`the watchdog exited: ${JSON.stringify(status)}`))
    );
    return new Watchdog(child.stdin, options.onError);
  }

  /** Lists a process group for the watchdog to kill. */
  track(pgid: number): void {
    this.#send(`+${pgid}\n`);
  }

  /** Gives the start time of a listed group's leader (`/proc` ticks), or 0 when it was gone. */
  noteStart(pgid: number, startTime: string): void {
    this.#send(`=${pgid} ${startTime}\n`);
  }

  /** Takes a process group off the list (its process has closed). */
  untrack(pgid: number): void {
    this.#send(`-${pgid}\n`);
  }

  #send(line: string): void {
    this.#stdin.write(new TextEncoder().encode(line)).catch(this.#onError);
  }
}
