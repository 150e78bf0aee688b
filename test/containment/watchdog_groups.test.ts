/**
 * The watchdog's `groups` mode (process-tree hosts) when the server is gone: it kills the groups
 * still listed, but not one whose leader was reaped and whose number a new process carries by
 * then (every child the server starts leads a group, so that is often another client's). Each case
 * runs in a pid namespace of its own, where writing `ns_last_pid` hands the next process the
 * number wanted, whatever the rest of the machine forks.
 */
import { describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { ProcessTreeSession } from "../../src/containment/mod.ts";
import { WATCHDOG_SCRIPT } from "../../src/containment/watchdog.ts";
import type { Watchdog } from "../../src/containment/watchdog.ts";
import type { Runtime } from "../../src/runtime/mod.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/**
 * Runs `body` in a new pid namespace after starting the watchdog there; `body` feeds it through
 * descriptor 3 (which what it starts must not inherit, as the server's children do not) and
 * closes that to play the server's death (then waits for the watchdog as $W);
 * $D is a directory of its own. Returns what `body` printed.
 */
async function inPidNamespace(body: string): Promise<string> {
  await using dir = await tempDir();
  const script = `
set -u
D="${dir.path}"
mkfifo "${dir.path}/in"
sh -c "$1" exec-server-watchdog groups < "${dir.path}/in" &
W=$!
exec 3> "${dir.path}/in"
${body}
`;
  const run = spawnSync("unshare", [
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "sh",
    "-c",
    script,
    "test",
    WATCHDOG_SCRIPT,
  ], {
    encoding: "utf8",
    timeout: 20_000,
  });
  if (run.status !== 0) throw new Error(`the namespace's script failed (${run.status}): ${run.stderr}`);
  return run.stdout.trim();
}

/**
 * `alive PID` prints whether it runs; a zombie (nobody reaps what the namespace's init inherits),
 * or one with a SIGKILL pending that has not run since, is gone. `start_of PID` prints its start time as the server reads it (`/proc/PID/stat` field
 * 22). `leads PID` waits until PID leads its process group (setsid(1) makes it one a moment after
 * it starts).
 */
const REPORT = `alive() {
  s=$(cat /proc/$1/stat 2>/dev/null) || { echo gone; return; }
  case "\${s##*) }" in Z*|X*) echo gone; return ;; esac
  while read -r key mask; do
    case $key in SigPnd:|ShdPnd:) [ $((0x$mask & 256)) = 0 ] || { echo gone; return; } ;; esac
  done < /proc/$1/status
  echo alive
}
start_of() { cut -d')' -f2 "/proc/$1/stat" | cut -d' ' -f21; }
leads() {
  while :; do
    set -- "$1" $(cut -d')' -f2 "/proc/$1/stat")
    [ "$4" = "$1" ] && return
  done
}`;

describe("the watchdog of a process-tree host, once the server is gone", () => {
  test("kills a listed group whose leader runs, what a reaped leader left, and a group it knows no start of", async () => {
    const out = await inPidNamespace(`
${REPORT}
setsid sleep 100 3>&- >/dev/null 2>&1 & L=$!
setsid sh -c 'sleep 101 & echo $! > "$0/child.tmp"; mv "$0/child.tmp" "$0/child"; exec sleep 102' "$D" 3>&- >/dev/null 2>&1 & R=$!
setsid sleep 103 3>&- >/dev/null 2>&1 & U=$!
leads $L; leads $R; leads $U
echo "+$L" >&3; echo "=$L $(start_of $L)" >&3
echo "+$R" >&3; echo "=$R $(start_of $R)" >&3
echo "+$U" >&3
while [ ! -s "$D/child" ]; do sleep 0.01; done
C=$(cat "$D/child")
kill -9 $R; wait $R
exec 3>&-; wait $W
echo "leader=$(alive $L) left=$(alive $C) unknown=$(alive $U)"
`);
    expect(out).toBe("leader=gone left=gone unknown=gone");
  });

  test("leaves alone the group of a new process that carries a reaped leader's number", async () => {
    const out = await inPidNamespace(`
${REPORT}
setsid sleep 100 3>&- >/dev/null 2>&1 & L=$!
leads $L
leader_start=$(start_of $L)
echo "+$L" >&3; echo "=$L $leader_start" >&3
kill -9 $L; wait $L
# Start times count clock ticks: the new carrier must start in a later tick than the leader, as
# it always does once the numbers have come round (each cut reads its own start time).
until [ "$(cut -d')' -f2 /proc/self/stat | cut -d' ' -f21)" -gt "$leader_start" ]; do :; done
echo $((L - 1)) > /proc/sys/kernel/ns_last_pid
setsid sleep 200 3>&- >/dev/null 2>&1 & S=$!
[ "$S" = "$L" ] || { echo "the number was not handed out again: $S, not $L"; exit 0; }
leads $S
exec 3>&-; wait $W
echo "stranger=$(alive $S)"
kill -9 $S 2>/dev/null || true
`);
    expect(out).toBe("stranger=alive");
  });

  test("a process-tree container gives the watchdog its child's start time after listing its group", async () => {
    const child = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
    try {
      const pid = child.pid ?? 0;
      const lines: string[] = [];
      const noted = Promise.withResolvers<void>();
      const watchdog = {
        track: (pgid: number) => void lines.push(`+${pgid}`),
        noteStart: (pgid: number, start: string) => {
          lines.push(`=${pgid} ${start}`);
          noted.resolve();
        },
      } as unknown as Watchdog;
      const container = await new ProcessTreeSession({} as Runtime, { watchdog }).create();
      container.started(pid, () => {});
      await noted.promise;
      const stat = await readFile(`/proc/${pid}/stat`, "latin1");
      const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
      expect(lines).toEqual([`+${pid}`, `=${pid} ${start}`]);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
