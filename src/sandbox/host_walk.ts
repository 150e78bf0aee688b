/**
 * A host path looked up component by component, every symlink followed as the kernel would, the
 * way the launcher finds a root before it binds it (`mount_namespace.ts`, whose lookup is
 * synchronous and runs before the namespace exists). The server's checks of a policy walk the
 * same way, asynchronously.
 */
import { lstat, readlink } from "node:fs/promises";

/** Symlinks followed before a lookup gives up, as the kernel's ELOOP bound. */
const MAX_LINKS = 40;

/** Where a walk ended. */
export interface HostWalk {
  /** The path reached, every link resolved; with the missing rest appended when `missing: "keep"`. */
  readonly real: string;
  /** How many symlinks were followed. */
  readonly links: number;
  /** The symlink `stopAt` accepted, where the walk stopped; null when it went to the end. */
  readonly stoppedAt: string | null;
}

/**
 * Walks `path` on the host. At each symlink, `stopAt` (when given) may end the walk there. A
 * missing component ends the walk: with null (`missing: "null"`), or with the rest of the path
 * appended to where it got (`missing: "keep"`: what would be made there later lies there). Null too
 * past `MAX_LINKS` links.
 */
export async function walkHostPath(
  path: string,
  options: { readonly missing: "null" | "keep"; readonly stopAt?: (link: string) => boolean },
): Promise<HostWalk | null> {
  let pending = path.split("/").filter((part) => part !== "");
  let current = "";
  let links = 0;
  while (pending.length > 0) {
    const [head, ...rest] = pending;
    pending = rest;
    if (head === undefined || head === ".") continue;
    if (head === "..") {
      current = current.slice(0, current.lastIndexOf("/"));
      continue;
    }
    const next = `${current}/${head}`;
    const info = await lstat(next).catch(() => null);
    if (info !== null && !info.isSymbolicLink()) {
      current = next;
      continue;
    }
    if (info !== null && options.stopAt?.(next) === true) return { real: next, links, stoppedAt: next };
    const target = info === null ? null : await readlink(next).catch(() => null);
    if (target === null) {
      if (options.missing === "null") return null;
      current = [next, ...pending].join("/");
      break;
    }
    if (++links > MAX_LINKS) return null;
    pending = [...target.split("/").filter((part) => part !== ""), ...pending];
    if (target.startsWith("/")) current = "";
  }
  return { real: current === "" ? "/" : current, links, stoppedAt: null };
}
