/**
 * Where this process sits in each cgroup hierarchy: the mounts of `/proc/self/mountinfo` joined
 * with the paths of `/proc/self/cgroup`.
 */
import { readFile } from "node:fs/promises";

/**
 * The resource controllers the server uses for limits and usage. CPU time needs none: every
 * cgroup2 directory has `cpu.stat`.
 */
export type Controller = "memory" | "pids";

/** One hierarchy and this process's own directory in it. */
export interface OwnCgroup {
  /** Where the hierarchy is mounted. */
  readonly mount: string;
  /** The directory of this process's cgroup (under `mount`). */
  readonly dir: string;
}

/** The hierarchies this process belongs to. */
export interface CgroupPlaces {
  /** The cgroup2 (unified) hierarchy, when mounted. */
  readonly unified: OwnCgroup | null;
  /** cgroup v1 hierarchies by the controller they carry. */
  readonly v1: ReadonlyMap<Controller, OwnCgroup>;
}

interface Mount {
  readonly root: string;
  readonly point: string;
  readonly fstype: string;
  readonly superOptions: readonly string[];
}

/** Reads both files of this process; a host without them has no hierarchy. */
export async function findCgroupPlaces(): Promise<CgroupPlaces> {
  try {
    const [mountinfo, cgroups] = await Promise.all([
      readFile("/proc/self/mountinfo", "utf8"),
      readFile("/proc/self/cgroup", "utf8"),
    ]);
    return cgroupPlaces(mountinfo, cgroups);
  } catch {
    return { unified: null, v1: new Map() };
  }
}

/** Joins the two files' texts (exported for tests). */
export function cgroupPlaces(mountinfo: string, cgroups: string): CgroupPlaces {
  const mounts = parseMountinfo(mountinfo);
  let unified: OwnCgroup | null = null;
  const v1 = new Map<Controller, OwnCgroup>();
  for (const line of cgroups.split("\n")) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (match === null) continue;
    const [, id, controllers = "", path = ""] = match;
    if (id === "0" && controllers === "") {
      const mount = mounts.find((entry) => entry.fstype === "cgroup2");
      unified ??= mount === undefined ? null : ownDir(mount, path);
      continue;
    }
    const names = controllers.split(",");
    const mount = mounts.find((entry) =>
      entry.fstype === "cgroup" && names.every((name) => entry.superOptions.includes(name))
    );
    if (mount === undefined) continue;
    const own = ownDir(mount, path);
    if (own === null) continue;
    if (names.includes("memory")) v1.set("memory", own);
    if (names.includes("pids")) v1.set("pids", own);
  }
  return { unified, v1 };
}

/** The mount's directory for `path`, or null when the mount does not show that cgroup. */
function ownDir(mount: Mount, path: string): OwnCgroup | null {
  const root = mount.root === "/" ? "" : mount.root;
  if (path !== root && !path.startsWith(`${root}/`)) return null;
  const rest = path.slice(root.length);
  return { mount: mount.point, dir: rest === "" || rest === "/" ? mount.point : `${mount.point}${rest}` };
}

function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const dash = line.indexOf(" - ");
    if (dash === -1) continue;
    const fields = line.slice(0, dash).split(" ");
    const [fstype = "", , superOptions = ""] = line.slice(dash + 3).split(" ");
    const root = fields[3];
    const point = fields[4];
    if (root === undefined || point === undefined) continue;
    mounts.push({
      root: unescapeMountField(root),
      point: unescapeMountField(point),
      fstype,
      superOptions: superOptions.split(","),
    });
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash as three-digit octal escapes. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
