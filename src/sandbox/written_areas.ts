/**
 * The writable roots this server has given sandboxes, by their real paths. Sandboxed code may
 * have left a symlink anywhere inside one (DESIGN.md's threat model: it renames and symlinks to
 * move what a later policy protects), so a later policy's root is never looked up through a
 * symlink there: the launcher would show the sandbox whatever the link names instead.
 */
import { realpath } from "node:fs/promises";
import { isWithin } from "./glob.ts";
import { mountAliases } from "./mount_aliases.ts";

/**
 * How many areas are kept, the latest first. Only a client names roots, and a client that names
 * thousands of writable roots is the orchestrator itself, which needs no link to reach anything;
 * the bound keeps its memory fixed.
 */
const MAX_AREAS = 4096;

export class WrittenAreas {
  #areas: string[] = [];

  /** The recorded area that holds `path` strictly inside it, or null. */
  holding(path: string): string | null {
    return this.#areas.find((area) => path !== area && isWithin(path, area)) ?? null;
  }

  /** The recorded areas, for the launcher (`--no-links-in`). */
  list(): readonly string[] {
    return [...this.#areas];
  }

  /**
   * Records the real paths of the writable roots `roots` (missing ones are skipped: a sandbox
   * cannot write there), and the paths under which bind mounts show them (`mount_aliases.ts`). The whole file system is not recorded: a sandbox that may write `/`
   * reaches everything without a link, and recording it would refuse every later root through
   * the host's own links (`/bin` → `usr/bin`).
   */
  async record(roots: readonly string[]): Promise<void> {
    const real = (await Promise.all(roots.map((root) => realpath(root).catch(() => null))))
      .filter((area): area is string => area !== null && area !== "/");
    // The same files under a bind mount's path are written as much: a link planted there is met
    // through either path. Looked up at every record, since a bind mount may come later.
    for (const area of [...real, ...await mountAliases(real)]) {
      if (area === "/" || this.#areas.some((known) => isWithin(area, known))) continue;
      this.#areas = [area, ...this.#areas.filter((known) => !isWithin(known, area))].slice(0, MAX_AREAS);
    }
  }
}
