import { readFileSync } from "node:fs";
import { readdir, readFile, readlink } from "node:fs/promises";
import { isSandboxMountSource, sandboxMountSource } from "../launcher/mod.ts";
import { outlastingShortage } from "./shortage.ts";

/** One process as `/proc/<pid>/stat` describes it. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
  readonly startTime: string;
}

/**
 * Finds the descendants of `rootPid` that left its process group (PROTOCOL.md §11.9): the
 * processes whose parent chain leads to it, plus those still in its session. Each comes with its
 * start time so that a reused pid is never signalled later.
 */
export async function findDescendants(rootPid: number): Promise<ProcStat[]> {
  const stats = (await procSnapshot()).stats;
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) {
    const list = children.get(stat.ppid);
    if (list === undefined) children.set(stat.ppid, [stat]);
    else list.push(stat);
  }
  const found = new Map<number, ProcStat>();
  const queue = [rootPid];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    for (const child of children.get(next) ?? []) {
      if (found.has(child.pid)) continue;
      found.set(child.pid, child);
      queue.push(child.pid);
    }
  }
  for (const stat of stats) {
    if (stat.pid !== rootPid && (stat.session === rootPid || stat.pgrp === rootPid)) {
      found.set(stat.pid, stat);
    }
  }
  return [...found.values()];
}

/**
 * The processes of the sandbox that the launch by `rootPid`, started at `rootStart`, built: those
 * whose mount namespace's root is that launch's tmpfs (`sandboxMountSource`). No process leaves
 * that namespace, so this finds the ones that both left the session and lost their parent, which
 * `findDescendants` cannot. Only namespaces other than the server's are read, each once.
 */
export async function findSandboxMembers(rootPid: number, rootStart: string): Promise<ProcStat[]> {
  const snapshot = await procSnapshot();
  const wanted = sandboxMountSource(rootPid, rootStart);
  const found: ProcStat[] = [];
  for (const stat of snapshot.stats) {
    const namespace = snapshot.namespaces.get(stat.pid);
    if (namespace === undefined || namespace === snapshot.own) continue;
    let source = snapshot.sandboxSources.get(namespace);
    if (source === undefined) {
      source = sandboxSourceOf(stat.task);
      snapshot.sandboxSources.set(namespace, source);
    }
    if ((await source) === wanted) found.push(stat);
  }
  return found;
}

/** The source of the sandbox root in `task`'s mount table (`LiveStat.task`), or null when it has none. */
async function sandboxSourceOf(task: string): Promise<string | null> {
  const text = await outlastingShortage(() => readFile(`/proc/${task}/mountinfo`, "utf8")).catch(() => "");
  for (const line of text.split("\n")) {
    const source = line.split(" - ")[1]?.split(" ")[1];
    if (isSandboxMountSource(source)) return source ?? null;
  }
  return null;
}

/** One read of /proc: the processes, their mount namespaces, and the server's own. */
interface ProcSnapshot {
  readonly stats: readonly LiveStat[];
  readonly namespaces: ReadonlyMap<number, string>;
  readonly own: string | null;
  /** Each foreign namespace's sandbox root, looked up once per snapshot when first needed. */
  readonly sandboxSources: Map<string, Promise<string | null>>;
}

/** The scan of /proc under way, and the one that follows it; concurrent callers share them. */
let scanning: Promise<ProcSnapshot> | null = null;
let nextScan: Promise<ProcSnapshot> | null = null;

/**
 * A table of /proc read after this call. Killing a session's N processes would otherwise read
 * /proc N times at once (N × every process's stat: seconds and hundreds of MB at N = 300); callers
 * that arrive during a scan share the next one, since the running one may have listed /proc
 * before their process forked.
 */
function procSnapshot(): Promise<ProcSnapshot> {
  if (scanning === null) {
    scanning = scanProc().finally(() => {
      scanning = null;
    });
    return scanning;
  }
  nextScan ??= scanning.then(() => {
    nextScan = null;
    return procSnapshot();
  });
  return nextScan;
}

async function scanProc(): Promise<ProcSnapshot> {
  const namespaces = new Map<number, string>();
  const own = await outlastingShortage(() => readlink("/proc/self/ns/mnt")).catch(() => null);
  let names: string[];
  try {
    names = await outlastingShortage(() => readdir("/proc"));
  } catch {
    return { stats: [], namespaces, own, sandboxSources: new Map() };
  }
  const stats = await Promise.all(
    names.filter((name) => /^\d+$/.test(name)).map(async (name) => {
      const stat = await readStat(Number(name));
      if (stat === null) return null;
      // Another user's process, or one gone, has no namespace to read: none is recorded.
      const namespace = await outlastingShortage(() => readlink(`/proc/${stat.task}/ns/mnt`)).catch(() =>
        null
      );
      if (namespace !== null) namespaces.set(stat.pid, namespace);
      return stat;
    }),
  );
  return {
    stats: stats.filter((stat): stat is LiveStat => stat !== null),
    namespaces,
    own,
    sandboxSources: new Map(),
  };
}

/** Signals each process whose start time still matches; vanished or reused pids are skipped. */
export async function signalProcesses(
  processes: readonly ProcStat[],
  signal: number,
  kill: (pid: number, signal: number) => void,
): Promise<void> {
  await Promise.all(processes.map(async (process) => {
    const now = await readStat(process.pid);
    if (now === null || now.startTime !== process.startTime) return;
    try {
      kill(process.pid, signal);
    } catch {
      // It exited between the check and the signal: nothing to do.
    }
  }));
}

/** The start time of a live process (clock ticks after boot), or null when it is gone or a zombie. */
export async function processStartTime(pid: number): Promise<string | null> {
  return (await readStat(pid))?.startTime ?? null;
}

/**
 * The start time of the child `pid` that was just spawned, read at once and whether or not it has
 * exited: it names the child's launch (`sandboxMountSource`), and a sandboxed `sh -c '(daemon &)'`
 * is often a zombie before an asynchronous read comes back, which left the daemon's sandbox
 * unnamed and the daemon alive past its session. Read synchronously so that the runtime, which
 * reaps on a later turn, has not reaped it yet (procfs does not block); null when it is gone.
 */
export function childStartTime(pid: number): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return fields[0] === "X" ? null : fields[19] ?? null;
}

/** A live process, with the `/proc` entry of one of its live threads (`<pid>` or `<pid>/task/<tid>`). */
interface LiveStat extends ProcStat {
  readonly task: string;
}

/**
 * A live process as its `/proc/<pid>/stat` describes it, or null when it is gone or a zombie. A
 * process whose main thread ended alone (`SYS_exit`) while others run has a zombie leader, whose
 * `ns/mnt` and `mountinfo` tell nothing: a sandboxed daemon that did so was taken for dead and
 * outlived its command, its session and its server. It is alive while one of its threads is, and is
 * read through that thread; its pid and start time stay the leader's, and a kill of the pid reaches
 * the whole thread group.
 */
async function readStat(pid: number): Promise<LiveStat | null> {
  const fields = await statFields(`${pid}`);
  const state = fields?.[0];
  if (fields === null || state === undefined || state === "X") return null;
  let task = `${pid}`;
  if (state === "Z") {
    const live = await liveThread(pid);
    if (live === null) return null;
    task = live;
  }
  return {
    pid,
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
    startTime: fields[19] ?? "",
    task,
  };
}

/** The fields of `/proc/<task>/stat` after the command name, or null when it cannot be read. */
async function statFields(task: string): Promise<string[] | null> {
  let text: string;
  try {
    text = await outlastingShortage(() => readFile(`/proc/${task}/stat`, "latin1"));
  } catch {
    return null;
  }
  // The command name may contain spaces and parentheses: fields resume after the last ")".
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** The `/proc` entry (`<pid>/task/<tid>`) of a live thread of `pid` other than its leader, or null. */
async function liveThread(pid: number): Promise<string | null> {
  const tids = await outlastingShortage(() => readdir(`/proc/${pid}/task`)).catch(() => [] as string[]);
  for (const tid of tids) {
    if (tid === `${pid}`) continue;
    const state = (await statFields(`${pid}/task/${tid}`))?.[0];
    if (state !== undefined && state !== "Z" && state !== "X") return `${pid}/task/${tid}`;
  }
  return null;
}
