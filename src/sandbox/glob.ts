/**
 * Expansion of `glob_pattern` deny entries over the readable roots (PROTOCOL.md §8.2).
 */
import { readdir } from "node:fs/promises";
import { pathGlob } from "../protocol/mod.ts";

/** Largest number of directory entries one expansion visits before it gives up. */
const GLOB_SCAN_MAX_ENTRIES = 200_000;

/** Kernel-made trees that hold no user files; a deny pattern there has nothing to hide. */
const SKIPPED_TREES = new Set(["/proc", "/sys", "/dev"]);

/** Thrown when an expansion would visit more than `GLOB_SCAN_MAX_ENTRIES` entries. */
export class GlobScanLimitError extends Error {
  constructor(pattern: string) {
    super(`glob scan of ${pattern} exceeds ${GLOB_SCAN_MAX_ENTRIES} entries`);
    this.name = "GlobScanLimitError";
  }
}

/**
 * Returns every existing path under `roots` that matches `pattern`, scanning at most `maxDepth`
 * directories deep without following symlinks. An absolute pattern is matched against absolute
 * paths, a relative one against paths relative to each root.
 */
export async function expandGlob(
  pattern: string,
  options: { roots: readonly string[]; maxDepth: number },
): Promise<string[]> {
  const matcher = pathGlob(pattern);
  const absolute = pattern.startsWith("/");
  const matches = new Set<string>();
  let visited = 0;

  async function scan(dir: string, relative: string, depth: number): Promise<void> {
    if (SKIPPED_TREES.has(dir)) return;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      // An unreadable or vanished directory holds nothing this scan can deny.
      return;
    }
    for (const entry of entries) {
      visited++;
      if (visited > GLOB_SCAN_MAX_ENTRIES) throw new GlobScanLimitError(pattern);
      const path = dir === "/" ? `/${entry.name}` : `${dir}/${entry.name}`;
      const rel = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (matcher.test(absolute ? path : rel)) matches.add(path);
      if (entry.isDirectory() && depth + 1 < maxDepthOf(options.maxDepth)) {
        await scan(path, rel, depth + 1);
      }
    }
  }

  for (const start of scanStarts(pattern, options.roots)) await scan(start, "", 0);
  return [...matches].sort();
}

/**
 * Where scanning begins: each root, or for an absolute pattern the directory of its literal prefix
 * where that lies inside a root (so `/srv/app/*.pem` does not walk all of `/`).
 */
function scanStarts(pattern: string, roots: readonly string[]): string[] {
  const unique = [...new Set(roots)];
  if (!pattern.startsWith("/")) return unique;
  const segments = pattern.split("/").slice(1);
  const literal: string[] = [];
  for (const segment of segments.slice(0, -1)) {
    if (/[*?]/.test(segment)) break;
    literal.push(segment);
  }
  const prefix = "/" + literal.join("/");
  const starts = new Set<string>();
  for (const root of unique) {
    if (isWithin(prefix, root)) starts.add(prefix);
    else if (isWithin(root, prefix)) starts.add(root);
  }
  return [...starts];
}

/** Whether `path` is `root` or lies below it (both normalized). */
export function isWithin(path: string, root: string): boolean {
  if (root === "/") return true;
  return path === root || path.startsWith(root + "/");
}

function maxDepthOf(depth: number): number {
  return Math.max(depth, 1);
}
