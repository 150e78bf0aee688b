/**
 * A sandboxed daemon that hides behind a zombie leader: its main thread ends alone while a second
 * thread runs on, so `/proc/PID/stat` says `Z` and `ns/mnt`, `mountinfo` and `cmdline` say nothing.
 */
import { readdir, readFile } from "node:fs/promises";

/** Whether a thread of `pid` still runs (its leader may be a zombie while other threads live). */
export async function anyThreadAlive(pid: number): Promise<boolean> {
  let tids: string[];
  try {
    tids = await readdir(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  for (const tid of tids) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8").catch(() => "");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state !== "" && state !== "Z" && state !== "X") return true;
  }
  return false;
}

/**
 * A python daemon that leaves the session and loses its parent (its first parent waits for the
 * pid file, so the start returns only once it exists), with stdio on /dev/null; `before` runs
 * before it writes its pid to `pidFile` (through a rename, so the file is whole once it exists),
 * `after` once it has.
 */
function detachedDaemon(pidFile: string, before: string, after: string): string[] {
  const script = `import ctypes, os, sys, threading, time
if os.fork():
    while not os.path.exists(${JSON.stringify(pidFile)}): time.sleep(0.01)
    sys.exit(0)
os.setsid()
if os.fork(): os._exit(0)
null = os.open("/dev/null", os.O_RDWR)
for fd in (0, 1, 2): os.dup2(null, fd)
${before}
with open(${JSON.stringify(pidFile + ".tmp")}, "w") as f: f.write(str(os.getpid()))
os.rename(${JSON.stringify(pidFile + ".tmp")}, ${JSON.stringify(pidFile)})
${after}
`;
  return ["python3", "-c", script];
}

/**
 * A daemon that leaves the session, loses its parent and ends its main thread alone
 * (`SYS_exit`), so that its leader is a zombie whose `/proc/PID/stat`, `ns/mnt` and `mountinfo`
 * say nothing while a second thread runs on. It writes its pid to `pidFile` first.
 */
export function zombieLeaderDaemon(pidFile: string): string[] {
  return detachedDaemon(
    pidFile,
    "threading.Thread(target=lambda: time.sleep(60)).start()",
    "ctypes.CDLL(None).syscall(60, 0)",
  );
}

/**
 * A daemon that leaves the session, loses its parent and makes itself undumpable
 * (`PR_SET_DUMPABLE` 0): a process of an unprivileged server's user then no longer reads its
 * `/proc/PID/ns/mnt`, `mountinfo` or `fd`. It writes its pid to `pidFile` first.
 */
export function undumpableDaemon(pidFile: string): string[] {
  return detachedDaemon(pidFile, "ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)", "time.sleep(60)");
}
