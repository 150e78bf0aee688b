import { readdir, readFile } from "node:fs/promises";

/** One process as `/proc/<pid>/stat` describes it. */
interface ProcStat {
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
  const stats = await procSnapshot();
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

/** The scan of /proc under way, and the one that follows it; concurrent callers share them. */
let scanning: Promise<ProcStat[]> | null = null;
let nextScan: Promise<ProcStat[]> | null = null;

/**
 * A table of /proc read after this call. Killing a session's N processes would otherwise read
 * /proc N times at once (N × every process's stat: seconds and hundreds of MB at N = 300); callers
 * that arrive during a scan share the next one, since the running one may have listed /proc
 * before their process forked.
 */
function procSnapshot(): Promise<ProcStat[]> {
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

async function scanProc(): Promise<ProcStat[]> {
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return [];
  }
  const stats = await Promise.all(
    names.filter((name) => /^\d+$/.test(name)).map((name) => readStat(Number(name))),
  );
  return stats.filter((stat): stat is ProcStat => stat !== null);
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

async function readStat(pid: number): Promise<ProcStat | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, "latin1");
  } catch {
    return null;
  }
  // The command name may contain spaces and parentheses: fields resume after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  if (state === undefined || state === "Z" || state === "X") return null;
  return {
    pid,
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
    startTime: fields[19] ?? "",
  };
}
