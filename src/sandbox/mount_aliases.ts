/**
 * The other paths under which the host shows a place: a bind mount (as containers, `BindPaths=` and
 * `mount --bind` make) shows a directory's files under a second path, which its real path
 * (`realpath`) never names. What the server protects by real path (the areas sandboxes wrote, its
 * own files, its token) is protected under each of those paths too.
 */
import { readFile } from "node:fs/promises";
import { isWithin } from "./glob.ts";

/** One mount of the host's table: its file system, the directory of it shown, and where. */
export interface HostMount {
  readonly device: string;
  readonly root: string;
  readonly mountPoint: string;
}

/** The mounts of a `mountinfo` text. */
export function parseHostMounts(text: string): HostMount[] {
  const mounts: HostMount[] = [];
  // mountinfo escapes space, tab, newline and backslash as octal.
  const unescape = (field: string): string =>
    field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
  for (const line of text.split("\n")) {
    const [, , device, root, mountPoint] = line.split(" ");
    if (device === undefined || root === undefined || mountPoint === undefined) continue;
    mounts.push({ device, root: unescape(root), mountPoint: unescape(mountPoint) });
  }
  return mounts;
}

/**
 * The other paths of `path` (absolute, links resolved) in `mounts`: where another mount of the same
 * file system shows it, or shows a part of it (that mount's whole mount point).
 */
export function aliasesIn(mounts: readonly HostMount[], path: string): string[] {
  let holder: HostMount | null = null;
  for (const mount of mounts) {
    if (!isWithin(path, mount.mountPoint)) continue;
    // The deepest mount point holds it; of mounts stacked on one, the last listed is on top.
    if (holder === null || mount.mountPoint.length >= holder.mountPoint.length) holder = mount;
  }
  if (holder === null) return [];
  const join = (base: string, rest: string): string =>
    rest === "" ? base : base === "/" ? rest : `${base}${rest}`;
  const rest = holder.mountPoint === "/" ? (path === "/" ? "" : path) : path.slice(holder.mountPoint.length);
  // Where `path` lies in its file system.
  const inside = join(holder.root, rest);
  const found = new Set<string>();
  for (const mount of mounts) {
    if (mount === holder || mount.device !== holder.device) continue;
    if (isWithin(inside, mount.root)) {
      const tail = mount.root === "/" ? (inside === "/" ? "" : inside) : inside.slice(mount.root.length);
      found.add(join(mount.mountPoint, tail));
    } else if (isWithin(mount.root, inside)) {
      found.add(mount.mountPoint);
    }
  }
  found.delete(path);
  return [...found];
}

/** The other paths of each of `paths` under the host's mounts now (none where /proc is missing). */
export async function mountAliases(paths: readonly string[]): Promise<string[]> {
  if (paths.length === 0) return [];
  const text = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const mounts = parseHostMounts(text);
  return [...new Set(paths.flatMap((path) => aliasesIn(mounts, path)))];
}
