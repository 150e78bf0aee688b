import { readdir } from "node:fs/promises";
import { findCgroupPlaces } from "../../src/containment/mod.ts";
import { pollUntil } from "./proc.ts";

/**
 * The cgroups a server with this pid still owns, in every hierarchy: a server's children share
 * the test runner's cgroups, so its trees sit beside the runner's own directories.
 */
export async function cgroupsOfServer(pid: number): Promise<string[]> {
  const places = await findCgroupPlaces();
  const parents = [places.unified, ...places.v1.values()].flatMap((place) =>
    place === null ? [] : [place.dir]
  );
  const left: string[] = [];
  for (const parent of new Set(parents)) {
    let names: string[];
    try {
      names = await readdir(parent);
    } catch {
      continue;
    }
    for (const name of names) if (name.startsWith(`exec-server.${pid}.`)) left.push(`${parent}/${name}`);
  }
  return left;
}

/**
 * Waits until the server's cgroups are gone, for at most `timeoutMs` (its watchdog removes them
 * after a SIGKILL), and returns what is left.
 */
export function cgroupsLeftAfter(pid: number, timeoutMs: number): Promise<string[]> {
  return pollUntil(() => cgroupsOfServer(pid), (left) => left.length === 0, timeoutMs);
}
