/**
 * Other servers' own files, as each declares them in its state directory. A server's launcher runs
 * the server's runtime and program or bundles before it confines itself, and a server keeps them
 * read-only in its own sandboxes only: another server's sandbox whose writable roots hold them (two
 * checkouts in one workspace, a server installed in another's project) could rewrite what that
 * server's next launch runs as its user, unconfined. So every server lists its own files in
 * `own-files.json` in its state directory, keeps that file open for as long as it runs, and reads
 * the lists of the other servers whose state directories it finds (`state_dir.ts`).
 *
 * A list counts only while the process its state directory is named after holds it open and runs in
 * this server's mount namespace: a sandbox, which lives in a namespace of its own, can make a
 * directory that looks like a state directory, never a list that counts. A list only ever adds
 * read-only carve-outs, and never makes a policy refused.
 *
 * Beside it, `secret-files.json` lists the files a server keeps secret (its token file), which a
 * server denies in its own sandboxes only: another server's sandbox whose roots show one read it
 * (Codex's read-only policy reads the whole disk), and the token admits whoever holds it to that
 * server. Every server denies them too, each only while it belongs to the user the declaring server
 * runs as, so that no user's server hides another user's files.
 */
import { constants } from "node:fs";
import { lstat, open, readdir, readlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import process from "node:process";
import { stateDirsIn } from "./state_dir.ts";

const LIST_NAME = "own-files.json";
const SECRET_LIST_NAME = "secret-files.json";
/** A state directory's name and its server's pid. */
const STATE_DIR_NAME = /^exec-server-(\d+)-[A-Za-z0-9]{6}$/;
/** A user's directory of state directories. */
const STATE_PARENT_NAME = /^exec-server-uid-\d+$/;
/** Bounds of what is read of one list: a server has a handful of own files. */
const MAX_LIST_BYTES = 65_536;
const MAX_FILES = 64;
/**
 * The state directories of one place that are examined: a place with more is refused anyway in a
 * policy whose writable roots hold it (`server_files.ts`), and one no root holds is written by no
 * sandbox of this policy.
 */
const MAX_STATE_DIRS = 256;
/**
 * The largest user's directory of state directories that is read, by its size as `lstat` gives
 * it (20 bytes a name on tmpfs, a 4 KiB block for every 60 or so on ext4): about 1,000 names on
 * ext4, 3,000 on tmpfs.
 */
const MAX_PARENT_BYTES = 65_536;
/**
 * The descriptors of a server looked through for its list: it opens the list as it starts, so the
 * list has one of its lowest numbers, and a process that holds many is not read through at each
 * resolution.
 */
const MAX_HOLDER_FDS = 256;

/** The lists a server holds open for as long as it runs. */
export interface Declaration {
  close(): Promise<void>;
}

/**
 * Writes this server's own files and its secret files (real paths) into its state directory and
 * keeps both lists open: the caller holds them for as long as the server runs.
 */
export async function declareOwnFiles(
  stateDir: string,
  files: readonly string[],
  secrets: readonly string[] = [],
): Promise<Declaration> {
  const handles: FileHandle[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(handles.map((handle) => handle.close()));
  };
  try {
    for (const [name, list] of [[LIST_NAME, files], [SECRET_LIST_NAME, secrets]] as const) {
      const handle = await open(join(stateDir, name), "w", 0o600);
      handles.push(handle);
      await handle.writeFile(JSON.stringify(list));
    }
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return { close };
}

/** How many checked lists are remembered. */
const MAX_CHECKED = 4096;
/** The lists already checked, by their path: what they declare while the same file is held. */
const checked = new Map<string, { readonly identity: string; readonly files: readonly string[] }>();

/** A secret file another server declares, with the process that declares it. */
export interface DeclaredSecret {
  readonly pid: string;
  readonly path: string;
}

/** What the other servers declare: their own files, and their secret files. */
export interface Declared {
  readonly own: readonly string[];
  readonly secret: readonly DeclaredSecret[];
}

/** The files that the other servers with a state directory in `bases` declare. */
export async function declaredFiles(bases: readonly string[]): Promise<Declared> {
  const namespace = await readlink("/proc/self/ns/mnt").catch(() => null);
  if (namespace === null) return { own: [], secret: [] };
  const dirs = (await Promise.all(bases.map(async (base) => await stateDirsBelow(base)))).flat();
  const [own = [], secret = []] = await Promise.all(
    [LIST_NAME, SECRET_LIST_NAME].map(async (name) =>
      (await Promise.all(dirs.map(async (dir) => await listOf(dir, name, namespace)))).flat()
    ),
  );
  return {
    own: [...new Set(own)],
    secret: secret.map((entry) => {
      const colon = entry.indexOf(":");
      return { pid: entry.slice(0, colon), path: entry.slice(colon + 1) };
    }),
  };
}

/**
 * Whether a declared secret belongs to the user its declaring process runs as (a regular file of
 * that owner): no user's server hides another user's files from every sandbox.
 */
export async function ownedByDeclarer(secret: DeclaredSecret): Promise<boolean> {
  const [holder, file] = await Promise.all([
    lstat(`/proc/${secret.pid}`).catch(() => null),
    lstat(secret.path).catch(() => null),
  ]);
  return holder !== null && file !== null && file.isFile() && file.uid === holder.uid;
}

/**
 * The first `MAX_STATE_DIRS` state directories in `base`, those in users' directories of them
 * included, looking into at most `MAX_STATE_DIRS` of the place's entries. A sandbox that may write
 * the place can make a user's directory of its own and fill it (150,000 names ended every
 * sandboxed launch and fs call of every session of a Deno server, whose spread of them into an
 * argument list overflowed its stack, and cost a Bun server 0.3–0.6 s and 0.3 GB at each), so one
 * larger than `MAX_PARENT_BYTES` is not read: a server's own holds one state directory per running
 * server of its user, and what a sandbox could fill it could already have rewritten the lists in.
 */
async function stateDirsBelow(base: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of (await stateDirsIn(base)).slice(0, MAX_STATE_DIRS)) {
    if (found.length >= MAX_STATE_DIRS) break;
    if (!STATE_PARENT_NAME.test(basename(dir))) {
      found.push(dir);
      continue;
    }
    const info = await lstat(dir).catch(() => null);
    if (info === null || !info.isDirectory() || info.size > MAX_PARENT_BYTES) continue;
    for (const name of await readdir(dir).catch(() => [])) {
      if (found.length >= MAX_STATE_DIRS) break;
      if (STATE_DIR_NAME.test(name)) found.push(join(dir, name));
    }
  }
  return found;
}

/**
 * What the list `name` of the state directory `dir` declares, when its server holds the list and
 * shares `own`; a secret list's paths come as `pid:path`, naming the declaring process.
 */
async function listOf(dir: string, name: string, own: string): Promise<readonly string[]> {
  const pid = STATE_DIR_NAME.exec(basename(dir))?.[1];
  if (pid === undefined || Number(pid) === process.pid) return [];
  const list = join(dir, name);
  const namespace = await readlink(`/proc/${pid}/ns/mnt`).catch(() => null);
  if (namespace !== own) {
    checked.delete(list);
    return [];
  }
  const declared = await heldList(pid, list);
  return name === SECRET_LIST_NAME ? declared.map((path) => `${pid}:${path}`) : declared;
}

/** The paths of the list `list` while process `pid` holds it open, else none. */
async function heldList(pid: string, list: string): Promise<readonly string[]> {
  const info = await lstat(list, { bigint: true }).catch(() => null);
  if (info === null || !info.isFile()) return [];
  const identity = `${pid}:${info.dev}:${info.ino}:${info.mtimeNs}`;
  const known = checked.get(list);
  if (known !== undefined && known.identity === identity) return known.files;
  // Not held: not a server's list, or one whose server has ended (its pid may run another
  // program now); remembered as empty while the file stays as it is.
  const files = await holds(pid, list) ? await readList(list) : [];
  // Directories a sandbox makes could grow the memory without end: forgetting costs a look again.
  if (checked.size >= MAX_CHECKED) checked.clear();
  checked.set(list, { identity, files });
  return files;
}

/** Whether process `pid` has `path` open. */
async function holds(pid: string, path: string): Promise<boolean> {
  const fds = (await readdir(`/proc/${pid}/fd`).catch(() => [])).map(Number).sort((a, b) => a - b);
  for (const fd of fds.slice(0, MAX_HOLDER_FDS)) {
    if (await readlink(`/proc/${pid}/fd/${fd}`).catch(() => null) === path) return true;
  }
  return false;
}

/** The absolute paths a list holds (none when it is not a list). */
async function readList(path: string): Promise<string[]> {
  let text: string;
  try {
    // Neither waiting on a FIFO nor following a link put at its name: a list is a regular file.
    const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_NOFOLLOW;
    const handle = await open(path, flags);
    try {
      if (!(await handle.stat()).isFile()) return [];
      const buffer = new Uint8Array(MAX_LIST_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      text = new TextDecoder().decode(buffer.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  } catch {
    return [];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter((entry): entry is string => typeof entry === "string" && entry.startsWith("/"))
    .slice(0, MAX_FILES);
}
