/**
 * Denials that the reduction of a policy drops (outside every root, or inside another denial)
 * judged by what their paths name on the host, not by their text: through a symbolic link, a
 * path whose text lies outside every root can name a file a root shows (`deny /d/link/secret`
 * beside `read /d/real`, where `/d/link` leads to `/d/real`), and so can a path outside the text
 * of a root that is itself named through a link. Dropping such a denial would leave the file
 * readable, so the policy is refused instead (PROTOCOL.md §8.5), as a carve-out through a link
 * beneath its root is.
 */
import { lstat, realpath } from "node:fs/promises";
import { isWithin } from "./glob.ts";
import { walkHostPath } from "./host_walk.ts";
import type { Policy } from "./policy_types.ts";

/** A denial the reduction dropped; `rule` names it in the refusal. */
export interface DroppedDenial {
  readonly path: string;
  readonly rule: string;
}

/** Why a dropped denial cannot be left out. */
export interface DenialProblem {
  readonly rule: string;
  readonly reason: string;
}

/** Where a path leads on the host, and whether a symbolic link took it there. */
interface HostLocation {
  readonly real: string;
  readonly throughLink: boolean;
}

/**
 * The first dropped denial that names something a root of `policy` shows and no kept denial
 * covers (the nearest enclosing place, by host location, decides), or null when there is none.
 */
export async function droppedDenialProblem(
  policy: Policy,
  dropped: readonly DroppedDenial[],
): Promise<DenialProblem | null> {
  if (dropped.length === 0) return null;
  const located = async (path: string, shown: boolean) => ({ shown, at: await hostLocation(path, false) });
  // All at once: each is a round trip to the runtime's file system threads.
  const [places, denials] = await Promise.all([
    Promise.all([
      ...[...policy.readable, ...policy.writable].map((path) => located(path, true)),
      ...policy.denied.map((path) => located(path, false)),
    ]),
    Promise.all(dropped.map(async (denial) => ({ denial, at: await hostLocation(denial.path, true) }))),
  ]);
  for (const { denial, at } of denials) {
    if (at === null) continue;
    let nearest: { shown: boolean; length: number } | null = null;
    for (const place of places) {
      if (place.at === null || !isWithin(at.real, place.at.real)) continue;
      const length = place.at.real === "/" ? 0 : place.at.real.length;
      // On a tie a root wins: refusing a policy is safe, dropping a denial is not.
      if (nearest === null || length > nearest.length || (length === nearest.length && place.shown)) {
        nearest = { shown: place.shown, length };
      }
    }
    if (nearest?.shown !== true) continue;
    const reason = at.throughLink
      ? "the path passes through a symbolic link"
      : "it lies in a root named through a symbolic link";
    return { rule: denial.rule, reason };
  }
  return null;
}

/**
 * Where `path` leads on the host, following symbolic links; the part from the first missing
 * component on is kept as written. Null for a loop of links (it names nothing). Each call to the
 * file system is a round trip to the runtime's threads, so what can be asked at once is: a root
 * (which mostly exists) takes one `realpath`, and only a missing one more; a denial (mostly
 * missing) has every prefix looked at together. A walk follows only when what is missing is a
 * link: a link on the way may lead into a root even though its end is not there yet.
 */
async function hostLocation(path: string, mostlyMissing: boolean): Promise<HostLocation | null> {
  if (!mostlyMissing) {
    const real = await realpath(path).catch(() => null);
    if (real !== null) return { real, throughLink: real !== path };
  }
  const prefixes: string[] = [path];
  for (let at = path; at !== "/";) {
    at = at.slice(0, at.lastIndexOf("/")) || "/";
    prefixes.push(at);
  }
  const [reals, infos] = await Promise.all([
    Promise.all(prefixes.map((at) => realpath(at).catch(() => null))),
    Promise.all(prefixes.map((at, i) => (i === prefixes.length - 1 ? null : lstat(at).catch(() => null)))),
  ]);
  const index = reals.findIndex((found) => found !== null);
  const base = prefixes[index] ?? "/";
  const baseReal = reals[index] ?? "/";
  if (index === 0) return { real: baseReal, throughLink: baseReal !== path };
  // The first missing component: a dangling link there leads on, anything else ends the path.
  if (infos[index - 1]?.isSymbolicLink() === true) return await walk(path);
  const rest = path.slice(base === "/" ? 1 : base.length + 1);
  return { real: `${baseReal === "/" ? "" : baseReal}/${rest}`, throughLink: baseReal !== base };
}

/** `hostLocation` component by component, for a path that meets a link to something missing. */
async function walk(path: string): Promise<HostLocation | null> {
  const walked = await walkHostPath(path, { missing: "keep" });
  return walked === null ? null : { real: walked.real, throughLink: walked.links > 0 };
}
