/**
 * The program files whose header `headerProblem` found executable, kept while each is the same
 * file with the same contents. Reading the header costs five round trips to the runtime's thread
 * pool (an `O_PATH` open, its stat, the reopen, the read, the closes), more than half of a start's
 * checks on Deno, and almost every start runs a program that an earlier start has checked.
 *
 * Only a pass is kept: the header is read through a descriptor of its own, so a file swapped in
 * between the stat and the read could be judged instead of the stat's; a pass kept by mistake
 * ends as the helper's failed exec, as any swap after the check does, while a refusal kept by
 * mistake would refuse the program until it changed.
 */
/**
 * The fields that change whenever the file's bytes do: a write moves mtime, and anything ctime.
 * A stat's `Stats` is one; a cache compares identities of one source only.
 */
export interface Identity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/**
 * How long after its last change a file is trusted to keep its stamps. File times come from a
 * coarse clock (a few ms), so a file rewritten within one tick of the read could keep them; as
 * with git's racily clean index entries, a file changed that lately is read again every time.
 */
const SETTLED_MS = 2_000;
/** Entries kept; the oldest goes first. */
const MAX_ENTRIES = 256;

/** Program paths whose header passed, with the identity of the file that was read. */
export class PassedHeaders {
  readonly #passed = new Map<string, Identity>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Whether the header of `path` passed when it was the file `info` (its stat now) describes. */
  executable(path: string, info: Identity): boolean {
    const identity = this.#passed.get(path);
    if (identity === undefined) return false;
    if (sameFile(identity, info)) return true;
    this.#passed.delete(path);
    return false;
  }

  /** Keeps the pass of the file `info` describes, unless it changed too lately to be trusted. */
  remember(path: string, info: Identity): void {
    const now = this.#now();
    if (now - info.ctimeMs < SETTLED_MS || now - info.mtimeMs < SETTLED_MS) return;
    this.#passed.delete(path);
    if (this.#passed.size >= MAX_ENTRIES) {
      const oldest = this.#passed.keys().next();
      if (oldest.done !== true) this.#passed.delete(oldest.value);
    }
    const { dev, ino, size, mtimeMs, ctimeMs } = info;
    this.#passed.set(path, { dev, ino, size, mtimeMs, ctimeMs });
  }
}

function sameFile(identity: Identity, info: Identity): boolean {
  return identity.dev === info.dev && identity.ino === info.ino && identity.size === info.size &&
    identity.mtimeMs === info.mtimeMs && identity.ctimeMs === info.ctimeMs;
}
