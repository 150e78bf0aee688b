import { access, constants, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { ErrorCode, RpcError } from "../protocol/mod.ts";
import { O_NOBLOCK_NOCTTY, openRegular, osErrorText } from "../fs/mod.ts";
import type { RootMountStat } from "../runtime/mod.ts";
import { PassedHeaders } from "./passed_headers.ts";

/** The header checks of programs this server has started (`executableProblem`), by their stat. */
const HEADERS = new PassedHeaders();
/** The same passes by the root-mount stat's `ProgramFile`, for `knownProgram`. */
const KNOWN_FILES = new PassedHeaders();

/**
 * Finds the executable for `argv0` (PROTOCOL.md §5.2): a name with `/` is used as is (relative to
 * `cwd`); otherwise it is searched in `path` (the child's PATH, else the server's). An empty PATH
 * entry means `cwd`. Throws -32603 `program <argv0>: <os error>`. With `rootMount`, a program the
 * search found before is answered on the server's thread where it can be (`knownProgram`), within
 * `budgetMs` of walks there.
 */
export async function lookupProgram(
  argv0: string,
  cwd: string,
  path: string,
  rootMount: RootMountStat | null = null,
  budgetMs = KNOWN_BUDGET_MS,
): Promise<string> {
  const known = rootMount === null ? null : knownProgram(rootMount, argv0, cwd, path, budgetMs);
  if (known !== null) return known;
  if (argv0.includes("/")) {
    const candidate = directCandidate(argv0, cwd);
    const problem = await executableProblem(candidate, rootMount);
    if (problem !== null) throw programError(argv0, problem);
    return candidate;
  }
  const candidates = pathCandidates(argv0, cwd, path);
  // The entries up to where this name was found last time are asked about all at once, each a
  // round trip to the thread pool; the answer is still the first entry's in PATH order.
  const hint = `${path}\0${argv0}`;
  const ahead = candidates.slice(0, (FOUND_AT.get(hint) ?? 0) + 1).map((candidate) =>
    executableProblem(candidate, rootMount)
  );
  let firstProblem: string | null = null;
  for (const [index, candidate] of candidates.entries()) {
    const problem = await (ahead[index] ?? executableProblem(candidate, rootMount));
    if (problem === null) {
      rememberFound(hint, index);
      return candidate;
    }
    if (problem === "EACCES" && firstProblem === null) firstProblem = problem;
    // As the reference's execvp (musl): any other failure (a file that is no executable, a
    // symbolic link loop, the server out of descriptors) ends the search with its own error
    // rather than a later entry's program or "not found".
    if (!SEARCH_ON.has(problem)) throw programError(argv0, problem);
  }
  throw programError(argv0, firstProblem ?? "ENOENT");
}

function directCandidate(argv0: string, cwd: string): string {
  return argv0.startsWith("/") ? argv0 : `${cwd}/${argv0}`;
}

function pathCandidates(argv0: string, cwd: string, path: string): string[] {
  return path.split(":").map((entry) => {
    const dir = entry === "" ? cwd : entry.startsWith("/") ? entry : `${cwd}/${entry}`;
    return `${dir}/${argv0}`;
  });
}

/**
 * What `lookupProgram`'s search would answer, found without the runtime's thread pool (two to
 * seven round trips there, 45–85 µs of CPU each on Deno): the candidates in order through the
 * root-mount stat, each before the found one missing (ENOENT, ENOTDIR), the found one a file the
 * kernel lets the server execute and the very file (device, inode, size, stamps) whose header
 * passed an earlier search. Null for anything else, which the search then answers as before: a
 * program on another mount or first seen, a refusal, every error, a PATH too long or walks too
 * slow for the server's thread (`MAX_KNOWN_CANDIDATES`, `budgetMs`).
 */
function knownProgram(
  rootMount: RootMountStat,
  argv0: string,
  cwd: string,
  path: string,
  budgetMs: number,
): string | null {
  const candidates = argv0.includes("/") ? [directCandidate(argv0, cwd)] : pathCandidates(argv0, cwd, path);
  if (candidates.length > MAX_KNOWN_CANDIDATES) return null;
  const started = performance.now();
  for (const [index, candidate] of candidates.entries()) {
    if (index > 0 && performance.now() - started > budgetMs) return null;
    const answer = rootMount.program(candidate);
    if (answer === "ENOENT" || answer === "ENOTDIR") continue;
    if (answer === null || !KNOWN_FILES.executable(candidate, answer)) return null;
    knownAnswers++;
    return candidate;
  }
  return null;
}

/**
 * The most PATH entries `knownProgram` walks on the server's thread: a longer PATH is searched
 * through the thread pool. Each walk blocks every session while it lasts, and a start's PATH may
 * hold 200,000 missing entries: walked here, they held other sessions' requests about 6 s on both
 * runtimes, where the search lets them through between its entries.
 */
export const MAX_KNOWN_CANDIDATES = 64;
/**
 * The server's thread time after which `knownProgram` leaves the lookup to the search: an entry can
 * be a chain of symbolic links through a deep tree (one such walk took 18-53 ms here), and a
 * common lookup takes some microseconds.
 */
export const KNOWN_BUDGET_MS = 1;

let knownAnswers = 0;

/** Lookups `knownProgram` answered (a diagnostic for tests). */
export function knownProgramAnswers(): number {
  return knownAnswers;
}

/**
 * Keeps the pass of `candidate`, which the search found executable as the file `info` describes,
 * for `knownProgram`, when the root-mount stat finds that same file there now. The stamps differ
 * only in their precision; a file changed in between has a new ctime, and one changed within two
 * seconds before is not kept at all.
 */
function rememberKnown(rootMount: RootMountStat | null, candidate: string, info: Stats): void {
  const file = rootMount?.program(candidate) ?? null;
  if (file === null || typeof file === "string") return;
  if (
    file.dev === info.dev && file.ino === info.ino && file.size === info.size &&
    sameStamp(file.mtimeMs, info.mtimeMs) && sameStamp(file.ctimeMs, info.ctimeMs)
  ) {
    KNOWN_FILES.remember(candidate, file);
  }
}

/**
 * Whether a stamp with nanoseconds and a runtime's stat of it agree: Bun's carries the fraction,
 * Deno's is whole milliseconds, and its ctime whole seconds (Deno 2.9.6).
 */
function sameStamp(exactMs: number, statMs: number): boolean {
  if (Math.abs(exactMs - statMs) < 1) return true;
  return statMs % 1000 === 0 && Math.floor(exactMs / 1000) * 1000 === statMs;
}

/** Where each (PATH, name) was found last, a hint for the next search; the oldest goes first. */
const FOUND_AT = new Map<string, number>();
const MAX_FOUND_AT = 256;

function rememberFound(hint: string, index: number): void {
  FOUND_AT.delete(hint);
  if (FOUND_AT.size >= MAX_FOUND_AT) {
    const oldest = FOUND_AT.keys().next();
    if (oldest.done !== true) FOUND_AT.delete(oldest.value);
  }
  FOUND_AT.set(hint, index);
}

/** The failures after which the PATH search tries the next entry (musl's execvp; EACCES is remembered). */
const SEARCH_ON = new Set(["ENOENT", "ENOTDIR", "EACCES"]);

/** Checks that `cwd` is an existing directory; throws -32603 `cwd <path>: <os error>`. */
export async function checkCwd(cwd: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(cwd)).isDirectory();
  } catch (error) {
    const code = errnoCode(error) ?? "ENOENT";
    throw new RpcError(ErrorCode.Internal, "SpawnFailed", `cwd ${cwd}: ${osErrorText(code)}`, {
      errno: code,
      cause: error,
    });
  }
  if (!isDirectory) {
    throw new RpcError(ErrorCode.Internal, "SpawnFailed", `cwd ${cwd}: ${osErrorText("ENOTDIR")}`, {
      errno: "ENOTDIR",
    });
  }
}

/** -32603 SpawnFailed for a program that cannot be executed. */
export function programError(argv0: string, errno: string, cause?: unknown): RpcError {
  return new RpcError(ErrorCode.Internal, "SpawnFailed", `program ${argv0}: ${osErrorText(errno)}`, {
    errno,
    cause,
  });
}

async function executableProblem(candidate: string, rootMount: RootMountStat | null): Promise<string | null> {
  try {
    // Asked together, each a round trip to the runtime's thread pool, and answered as if asked in
    // turn: the access counts only for a regular file.
    const executable = access(candidate, constants.X_OK);
    executable.catch(() => {});
    const info = await stat(candidate);
    if (!info.isFile()) return "EACCES";
    await executable;
    if (HEADERS.executable(candidate, info)) {
      rememberKnown(rootMount, candidate, info);
      return null;
    }
    const verdict = await headerProblem(candidate);
    if (verdict === null) {
      HEADERS.remember(candidate, info);
      rememberKnown(rootMount, candidate, info);
    }
    return verdict;
  } catch (error) {
    return errnoCode(error) ?? "ENOENT";
  }
}

/**
 * Null when the kernel can execute the file: a `#!` script or an ELF image with a sane header;
 * else ENOEXEC (or EACCES: not a regular file). Checked here because Deno falls back to running
 * such a file with `/bin/sh`, where execve (and Codex) answer ENOEXEC.
 *
 * The server opens the file as itself, outside any sandbox, and a sandboxed process's program may
 * lie in the sandbox's writable roots, where the sandbox can rename a FIFO (or a link to a device)
 * over it between the `stat` and this open: a plain open of a FIFO waits for a writer, holding a
 * thread of the runtime's pool for as long as the sandbox likes, and a few of them stopped every
 * file operation of the server, a new connection's handshake included. So the file is opened only
 * once it is known to be a regular file (`openRegular`), and then neither waits nor takes a
 * controlling terminal.
 */
export async function headerProblem(path: string): Promise<"ENOEXEC" | "EACCES" | null> {
  const header = new Uint8Array(64);
  let file;
  try {
    file = await openRegular(path, constants.O_RDONLY | O_NOBLOCK_NOCTTY);
  } catch (error) {
    // Not a regular file (any more): what the stat would have said of it.
    if (error instanceof RpcError) return "EACCES";
    throw error;
  }
  let length: number;
  try {
    length = (await file.read(header, 0, header.length, 0)).bytesRead;
  } finally {
    await file.close();
  }
  if (length >= 2 && header[0] === 0x23 && header[1] === 0x21) return null;
  const elf = length >= 52 && header[0] === 0x7f && header[1] === 0x45 && header[2] === 0x4c &&
    header[3] === 0x46;
  const elfClass = header[4];
  const byteOrder = header[5];
  const executable = elf && (elfClass === 1 || elfClass === 2) && (byteOrder === 1 || byteOrder === 2) &&
    header[6] === 1;
  return executable ? null : "ENOEXEC";
}

/** The errno name of a Node-style error, if it has one. */
export function errnoCode(error: unknown): string | null {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return null;
}
