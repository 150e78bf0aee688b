/**
 * The server's own cgroup tree, set up once before it serves: a root beside (not above) the
 * server in the unified hierarchy, the memory and pids controllers from cgroup v2 where they are
 * delegated and from the v1 hierarchies on a hybrid host, and the sweep of trees that dead
 * servers left.
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import { errnoOf, osErrorText } from "../fs/mod.ts";
import type { CgroupPlaces, Controller } from "./cgroup_mounts.ts";
import { removeDir, writeControl } from "./cgroup_files.ts";
import { serverCgroupName, sweepDeadServers } from "./sweep.ts";

/** The controllers limits and usage need. */
const WANTED: readonly Controller[] = ["memory", "pids"];

/** Where one controller of a container lives. */
export type ControllerPlace =
  | { readonly version: 2 }
  | { readonly version: 1; readonly root: string };

/** This server's cgroup tree. */
export interface CgroupHost {
  readonly layout: "unified" | "hybrid";
  /** The server's root in the unified hierarchy: every session and process lives below it. */
  readonly root: string;
  readonly controllers: ReadonlyMap<Controller, ControllerPlace>;
  /** Why a wanted controller is missing. */
  readonly missing: readonly string[];
  /** Every root the server owns, the unified one first. */
  readonly roots: readonly string[];
  /** How many trees of dead servers the set-up removed. */
  readonly swept: number;
}

/** Creates the tree, or says why this host cannot have one. */
export async function setUpCgroupHost(
  places: CgroupPlaces,
  self: { pid: number; startTime: string },
  signal: AbortSignal,
): Promise<CgroupHost | { problem: string }> {
  const unified = places.unified;
  if (unified === null) return { problem: "no cgroup2 hierarchy is mounted" };
  const parent = unified.dir;
  const name = serverCgroupName(self.pid, self.startTime);
  const v1Parents = [...places.v1.values()].map((place) => place.dir);
  const swept = await sweepDeadServers(parent, v1Parents, signal);
  const root = `${parent}/${name}`;
  try {
    await mkdir(root);
  } catch (error) {
    return { problem: `cannot create a cgroup in ${parent}: ${osErrorText(errnoOf(error) ?? "EIO")}` };
  }
  if (!(await exists(`${root}/cgroup.kill`))) {
    await removeDir(root);
    return { problem: "cgroup.kill is missing (Linux 5.14 or later has it)" };
  }
  const v2 = await delegateControllers(parent, { root, leaf: `${parent}/${name}.server`, pid: self.pid });
  const controllers = new Map<Controller, ControllerPlace>();
  const missing: string[] = [];
  const roots = [root];
  for (const controller of WANTED) {
    if (v2.includes(controller)) {
      controllers.set(controller, { version: 2 });
      continue;
    }
    const place = places.v1.get(controller);
    if (place === undefined) {
      missing.push(`no ${controller} controller is available`);
      continue;
    }
    const v1Root = `${place.dir}/${name}`;
    try {
      await mkdir(v1Root);
      controllers.set(controller, { version: 1, root: v1Root });
      roots.push(v1Root);
    } catch (error) {
      missing.push(
        `cannot create a ${controller} cgroup in ${place.dir}: ${osErrorText(errnoOf(error) ?? "EIO")}`,
      );
    }
  }
  const layout = [...controllers.values()].some((place) => place.version === 1) ? "hybrid" : "unified";
  return { layout, root, controllers, missing, roots, swept };
}

/**
 * Makes the wanted v2 controllers available below `root` and returns those it got. A controller
 * the parent has but does not hand down is enabled in the parent's `cgroup.subtree_control`; the
 * "no internal processes" rule forbids that while the parent holds processes, so a server that is
 * alone there (a systemd service with `Delegate=yes`) first moves itself into a leaf beside the
 * root. A parent shared with other processes keeps what it hands down.
 */
async function delegateControllers(
  parent: string,
  tree: { root: string; leaf: string; pid: number },
): Promise<Controller[]> {
  const offered = await words(`${parent}/cgroup.controllers`);
  let available = await words(`${tree.root}/cgroup.controllers`);
  const lacking = WANTED.filter((controller) =>
    offered.includes(controller) && !available.includes(controller)
  );
  if (lacking.length > 0 && !(await enable(parent, lacking))) {
    const procs = await words(`${parent}/cgroup.procs`);
    if (procs.length === 1 && procs[0] === String(tree.pid)) {
      try {
        await mkdir(tree.leaf);
        await writeControl(`${tree.leaf}/cgroup.procs`, String(tree.pid));
        await enable(parent, lacking);
      } catch {
        // The parent stays as it was; the controllers it already hands down still serve.
      }
    }
  }
  available = await words(`${tree.root}/cgroup.controllers`);
  const usable = WANTED.filter((controller) => available.includes(controller));
  const enabled: Controller[] = [];
  for (const controller of usable) {
    if (await enable(tree.root, [controller])) enabled.push(controller);
  }
  return enabled;
}

/** Enables controllers for the children of `dir`; false when the kernel refuses. */
async function enable(dir: string, controllers: readonly Controller[]): Promise<boolean> {
  try {
    await writeControl(`${dir}/cgroup.subtree_control`, controllers.map((name) => `+${name}`).join(" "));
    return true;
  } catch {
    return false;
  }
}

async function words(path: string): Promise<string[]> {
  try {
    return (await readFile(path, "utf8")).split(/\s+/).filter((word) => word !== "");
  } catch {
    return [];
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
