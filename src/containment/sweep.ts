/**
 * The names of a server's cgroups, and the removal of what a server that died without cleaning
 * up (its watchdog killed too) left behind.
 */
import { readdir } from "node:fs/promises";
import { errnoOf } from "../fs/mod.ts";
import { removeTree, untilEmpty, writeControl } from "./cgroup_files.ts";
import { processStartTime } from "./descendants.ts";

/** `exec-server.<pid>.<start time>`, and `….server` for the leaf a server moved itself into. */
const OWNED_NAME = /^exec-server\.(\d+)\.(\d+)(\.server)?$/;

/**
 * The name of this server's cgroups. The start time makes it unique even when the pid is reused,
 * so a later server can tell a dead owner's tree from a live one's.
 */
export function serverCgroupName(pid: number, startTime: string): string {
  return `exec-server.${pid}.${startTime}`;
}

/**
 * Why a dead server's tree may stay where it is: gone already (ENOENT), still emptying (EBUSY), or
 * not this server's to touch (EACCES, EPERM: another user's server, such as a root server that has
 * just died while its watchdog cleans up; that user's next server removes it).
 */
const LEFT_ALONE = new Set(["ENOENT", "EBUSY", "EACCES", "EPERM"]);

/**
 * Kills and removes the trees in `unifiedParent` and `v1Parents` whose owning server is no longer
 * running; returns how many it removed. Live servers' trees are left alone, so servers that share
 * a parent cgroup never touch each other's processes.
 */
export async function sweepDeadServers(
  unifiedParent: string,
  v1Parents: readonly string[],
  signal: AbortSignal,
): Promise<number> {
  let removed = 0;
  for (const name of await deadOwners(unifiedParent)) {
    const dir = `${unifiedParent}/${name}`;
    try {
      // A leaf held only its server and the watchdog; a watchdog still cleaning up keeps it busy.
      if (!name.endsWith(".server")) {
        await writeControl(`${dir}/cgroup.kill`, "1");
        await untilEmpty(dir, signal);
      }
      await removeTree(dir);
      removed++;
    } catch (error) {
      if (!LEFT_ALONE.has(errnoOf(error) ?? "")) throw error;
    }
  }
  for (const parent of v1Parents) {
    for (const name of await deadOwners(parent)) {
      try {
        await removeTree(`${parent}/${name}`);
        removed++;
      } catch (error) {
        if (!LEFT_ALONE.has(errnoOf(error) ?? "")) throw error;
      }
    }
  }
  return removed;
}

/** The entries of `parent` named after a server that is not running any more. */
async function deadOwners(parent: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const dead: string[] = [];
  for (const name of names) {
    const match = OWNED_NAME.exec(name);
    if (match === null) continue;
    const [, pid = "", startTime = ""] = match;
    if ((await processStartTime(Number(pid))) !== startTime) dead.push(name);
  }
  return dead;
}
