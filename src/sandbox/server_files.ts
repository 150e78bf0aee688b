/**
 * The server's own files and its secret files in every policy. The launcher runs the server's
 * own files (runtime, program or bundles, state directory with the join helper) before it
 * confines itself, so they are read-only in every writable root that holds them; the token file
 * is denied in every root that shows it.
 *
 * The same holds for every other server's state directory in the places where servers make them
 * (`state_dir.ts`): the join helper and the bundles there are run by that server before anything
 * is confined, so a writable root that holds one keeps it read-only, and one inside it is refused.
 *
 * All are compared with the roots by real location, never by the text of their paths: a root
 * given as `/t/link` (a link to `/t/real`) shows `/t/real/token`, and a state directory made in
 * `$TMPDIR=/t/link` lies in a root given as `/t/real`. The files come in at their real paths
 * (`SandboxContext`); each root's real path is looked up at every resolution, and a file inside
 * it is protected under the root's own spelling, the way the launcher reaches it from the root's
 * mount.
 */
import { lstat, realpath } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pathToUri, RpcError } from "../protocol/mod.ts";
import { ErrorCode } from "../protocol/mod.ts";
import { isWithin } from "./glob.ts";
import type { Policy, ServerFiles } from "./policy_types.ts";
import { declaredFiles, ownedByDeclarer } from "./declared_files.ts";
import { isStateDirName, stateDirsIn } from "./state_dir.ts";

/** At most this many state directories of one place are kept read-only in a sandbox. */
const MAX_STATE_DIRS = 256;

/** A root of the policy: as the policy names it, and where that leads on the host. */
interface Root {
  readonly given: string;
  readonly real: string;
  readonly writable: boolean;
}

/** A rule's text as refusals name it, by its path and access. */
export type RuleText = (path: string, access: "read" | "write") => string;

/**
 * Adds the server's own files as read-only carve-outs of the writable roots that hold them, and
 * its secret files as denied paths of the roots that show them. Refuses (-32602) a writable root
 * at or inside one of the server's own files and a root at a secret file: neither can be made
 * read-only or hidden and stay a root. Refuses too a protection whose way from its root meets a
 * symbolic link, which the launcher would not follow (it could only be made between the lookups).
 */
export async function protectServerFiles(
  policy: Policy,
  files: ServerFiles,
  ruleText: RuleText,
): Promise<Policy> {
  const own = files.ownFiles ?? [];
  const secret = files.secretFiles ?? [];
  const bases = files.stateDirBases ?? [];
  if (own.length === 0 && secret.length === 0 && bases.length === 0) return policy;
  const declared = bases.length === 0 ? { own: [], secret: [] } : await declaredFiles(bases);
  // A readable root matters only for what it shows: each lookup costs a trip to the file system.
  const shows = secret.length > 0 || declared.secret.length > 0;
  const roots = await Promise.all([
    ...(shows ? policy.readable.map((given) => root(given, false)) : []),
    ...policy.writable.map((given) => root(given, true)),
  ]);
  const writable = roots.filter((from) => from.writable);
  const readOnly = [...policy.readOnly];
  const denied = [...policy.denied];
  const added: { path: string; from: Root }[] = [];
  const refuse = (from: Root, reason: string): RpcError =>
    unenforceable(ruleText(from.given, from.writable ? "write" : "read"), reason);
  const keep = (file: string, kind: { same: string; inside: string }): void => {
    for (const from of writable) {
      if (from.real === file) throw refuse(from, kind.same);
      if (isWithin(from.real, file)) throw refuse(from, kind.inside);
      if (!isWithin(file, from.real)) continue;
      const path = spelled(from, file);
      const covered = [...denied, ...readOnly].some((kept) => isWithin(path, kept));
      if (covered) continue;
      readOnly.push(path);
      added.push({ path, from });
    }
  };
  for (const file of own) {
    keep(file, {
      same: "it holds the server's own program",
      inside: "it lies inside the server's own files",
    });
  }
  for (const dir of await stateDirsHeld(bases, writable, refuse)) {
    keep(dir, {
      same: "it is a server's state directory",
      inside: "it lies inside a server's state directory",
    });
  }
  // Another server's own files, as it declares them: read-only where a writable root holds them,
  // but never a reason to refuse (nor kept through a link), since any local user's server declares.
  for (const file of declared.own) {
    for (const from of writable) {
      if (!isWithin(file, from.real) || from.real === file) continue;
      const path = spelled(from, file);
      if ([...denied, ...readOnly].some((kept) => isWithin(path, kept))) continue;
      if (await meetsLink(from.given, path)) continue;
      readOnly.push(path);
    }
  }
  // Another server's secret files, each its user's own: denied where a root shows them, never
  // kept through a link; a root that is one is refused, as a root at this server's token is.
  for (const declaredSecret of declared.secret) {
    const file = declaredSecret.path;
    const showing = roots.filter((from) => isWithin(file, from.real));
    // Only one a root shows costs a look at its owner.
    if (showing.length === 0 || !await ownedByDeclarer(declaredSecret)) continue;
    for (const from of showing) {
      if (from.real === file) throw refuse(from, "it is a file another server keeps secret");
      const path = spelled(from, file);
      if (denied.some((hidden) => isWithin(path, hidden))) continue;
      if (await meetsLink(from.given, path)) continue;
      denied.push(path);
    }
  }
  for (const file of secret) {
    for (const from of roots) {
      if (isWithin(from.real, file)) throw refuse(from, "it is a file the server keeps secret");
      if (!isWithin(file, from.real)) continue;
      const path = spelled(from, file);
      if (denied.some((hidden) => isWithin(path, hidden))) continue;
      denied.push(path);
      added.push({ path, from });
    }
  }
  for (const { path, from } of added) {
    if (await meetsLink(from.given, path)) {
      throw refuse(
        from,
        `the way to ${pathToUri(path)}, which the server protects, passes through a symbolic link`,
      );
    }
  }
  return { ...policy, readOnly, denied };
}

/**
 * The state directories (and users' directories of them) in each of `bases` that a writable root
 * holds, found anew at every resolution: another server may have started since the last. More
 * than `MAX_STATE_DIRS` in one place are refused rather than kept read-only one by one (a sandbox
 * that can write there could make them to bloat every launch).
 */
async function stateDirsHeld(
  bases: readonly string[],
  writable: readonly Root[],
  refuse: (from: Root, reason: string) => RpcError,
): Promise<string[]> {
  const found: string[] = [];
  for (const base of bases) {
    // A root inside one is refused by `keep`; only a root that holds the place needs its listing.
    for (const from of writable) {
      if (from.real === base || !isWithin(from.real, base)) continue;
      const name = from.real.slice(base === "/" ? 1 : base.length + 1).split("/")[0] ?? "";
      if (isStateDirName(name)) found.push(join(base, name));
    }
    const holder = writable.find((from) => isWithin(base, from.real));
    if (holder === undefined) continue;
    const dirs = await stateDirsIn(base);
    if (dirs.length > MAX_STATE_DIRS) {
      throw refuse(
        holder,
        `it holds more than ${MAX_STATE_DIRS} exec-server state directories in ${pathToUri(base)}`,
      );
    }
    found.push(...dirs);
  }
  return [...new Set(found)];
}

async function root(given: string, writable: boolean): Promise<Root> {
  return { given, real: await hostPath(given), writable };
}

/**
 * Where `path` leads on the host: its real path, or, where it does not exist (yet), the real
 * path of its nearest existing ancestor with the rest appended.
 */
export async function hostPath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    const parent = dirname(path);
    if (parent === path) return path;
    return join(await hostPath(parent), basename(path));
  }
}

/** `file` (inside `from.real`) as reached from the root `from` by its given path. */
function spelled(from: Root, file: string): string {
  const rest = from.real === "/" ? file : file.slice(from.real.length);
  if (from.given === "/") return rest === "" ? "/" : rest;
  return rest === "/" ? from.given : `${from.given}${rest}`;
}

/** Whether the way from `root` down to `path` (inside it) meets a symbolic link on the host. */
async function meetsLink(root: string, path: string): Promise<boolean> {
  let current = root === "/" ? "" : root;
  for (const part of path.slice(current.length + 1).split("/")) {
    if (part === "") continue;
    current += `/${part}`;
    const info = await lstat(current).catch(() => null);
    if (info === null) return false;
    if (info.isSymbolicLink()) return true;
  }
  return false;
}

function unenforceable(rule: string, reason: string): RpcError {
  return new RpcError(
    ErrorCode.InvalidParams,
    "Unenforceable",
    `sandbox rule ${rule} cannot be enforced: ${reason}`,
  );
}
