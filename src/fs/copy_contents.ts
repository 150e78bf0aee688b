/**
 * The bytes of one file copied into an empty one, its holes kept as holes (docs/performance.md,
 * "Copies that keep holes"). Where the runtime offers the kernel's calls (`FileRanges`) and the
 * source lies on a local disk or memory file system, the runs of data are found with `SEEK_DATA` /
 * `SEEK_HOLE` and copied by `copy_file_range` (Deno, off the server's thread) or read and written
 * (Bun; a file that is one run of data Bun copies whole, by its own `copy_file_range`). Anywhere else, or from where one of those calls fails, the file is read and written
 * through the runtime's thread pool, and a block of zeros is left unwritten, a hole in the copy (as
 * `cp --sparse=always` does). The destination's length is set last, so a trailing hole costs
 * nothing either.
 */
import { Buffer } from "node:buffer";
import type { FileHandle } from "node:fs/promises";
import type { FileRanges } from "../runtime/mod.ts";

const READ_BYTES = 1 << 20;
/**
 * The smallest file whose runs of data are looked for: below it one read and one write cost less
 * than the calls that find the runs (each a round trip to another thread, on Bun two reads of /proc).
 */
const WALK_MIN_BYTES = 1 << 20;
/** The smallest hole the read path leaves: a page, and the block of the usual file systems. */
const BLOCK_BYTES = 4096;
/** The most one `copy_file_range` copies: a cancelled copy stops after at most this much. */
const RANGE_BYTES = 64 << 20;

/** How far the walk of the runs of data got: all of the file, or an offset from which to read. */
type Walk = { readonly complete: true; readonly end: number } | {
  readonly complete: false;
  readonly from: number;
};

/** Copies what `input` holds into `output`, which is empty; `size` is what `input`'s stat said. */
export async function copyContents(
  input: FileHandle,
  output: FileHandle,
  options: { size: number; signal: AbortSignal | undefined; ranges: FileRanges | null },
): Promise<void> {
  const { ranges, signal } = options;
  const buffer = new CopyBuffer(options.size);
  let from = 0;
  if (ranges !== null && options.size >= WALK_MIN_BYTES && await ranges.isLocalFile(input.fd)) {
    const walk = await copyRuns(input, output, { ranges, size: options.size }, buffer, signal);
    if (walk.complete) {
      await output.truncate(Math.max(Number((await input.stat()).size), walk.end));
      return;
    }
    from = walk.from;
  }
  // From the start, at the descriptor's own offset, as a file of /proc is read.
  const span = { from, to: null, positioned: from > 0, size: options.size };
  const read = await copyRead(input, output, span, buffer, signal);
  // A file whose last block was written has its length (most files of a tree): no call for it.
  if (!read.tailWritten && read.end > 0) await output.truncate(read.end);
}

/**
 * Copies each run of data, skipping the holes between them: by `copy_file_range` until the kernel
 * refuses it (another file system pair, a file system without it, a runtime that does not offer
 * it), then by reading and writing.
 */
async function copyRuns(
  input: FileHandle,
  output: FileHandle,
  how: { ranges: FileRanges; size: number },
  buffer: CopyBuffer,
  signal: AbortSignal | undefined,
): Promise<Walk> {
  const { ranges } = how;
  let kernelCopies = true;
  let offset = 0;
  const runs = ranges.walkRuns(input.fd);
  for (;;) {
    signal?.throwIfAborted();
    const run = await runs.next(offset);
    if (run === null) return { complete: true, end: offset };
    if (typeof run === "number") return { complete: false, from: offset };
    const { start: data, end: hole } = run;
    if (data === 0 && hole >= how.size && ranges.copyWhole !== null) {
      // One run, the whole file: the runtime's own copy, where it has one off its thread.
      const copied = await ranges.copyWhole(input.fd, output.fd);
      if (copied >= 0) return { complete: true, end: copied };
    }
    let at = data;
    while (kernelCopies && at < hole) {
      signal?.throwIfAborted();
      const copied = await ranges.copyRange(input.fd, at, output.fd, at, Math.min(hole - at, RANGE_BYTES));
      // 0: the file ended early (it shrank since).
      if (copied === 0) return { complete: true, end: at };
      if (copied < 0) kernelCopies = false;
      else at += copied;
    }
    if (at < hole) {
      const span = { from: at, to: hole, positioned: true, size: how.size };
      const { end } = await copyRead(input, output, span, buffer, signal);
      if (end < hole) return { complete: true, end };
    }
    offset = hole;
  }
}

/** The read path's memory for one file, made on first use: `zeros` is as long as `bytes`. */
class CopyBuffer {
  readonly #length: number;
  #bytes: Buffer | null = null;
  #zeros: Buffer | null = null;

  constructor(size: number) {
    // A byte more than the file: its one read comes back short at its end, which ends the copy.
    this.#length = Math.min(READ_BYTES, Math.max(roundUp(size + 1), BLOCK_BYTES));
  }

  get bytes(): Buffer {
    return this.#bytes ??= Buffer.alloc(this.#length);
  }

  get zeros(): Buffer {
    return this.#zeros ??= Buffer.alloc(this.#length);
  }
}

/**
 * Reads `input` from `from` to `to` (its end where null) and writes what is not zeros at the same
 * offsets; resolves with where it stopped, and whether the block before was written.
 * `positioned`: at explicit offsets, else at the descriptor's own. A read that comes back short
 * exactly at `size` (what the file's stat said) is taken for its end, without the read that would
 * come back empty: a small file is one read. (A file of /proc reads short without ending, and its
 * stat says 0.)
 */
async function copyRead(
  input: FileHandle,
  output: FileHandle,
  span: { from: number; to: number | null; positioned: boolean; size: number },
  buffer: CopyBuffer,
  signal: AbortSignal | undefined,
): Promise<{ end: number; tailWritten: boolean }> {
  const { bytes, zeros } = buffer;
  let position = span.from;
  let tailWritten = false;
  while (span.to === null || position < span.to) {
    signal?.throwIfAborted();
    const length = span.to === null ? bytes.length : Math.min(bytes.length, span.to - position);
    const { bytesRead } = await input.read(bytes, 0, length, span.positioned ? position : null);
    if (bytesRead === 0) break;
    tailWritten = await writeData(output, bytes.subarray(0, bytesRead), zeros, position);
    position += bytesRead;
    if (bytesRead < length && position === span.size) break;
  }
  return { end: position, tailWritten };
}

function roundUp(length: number): number {
  return Math.ceil(Math.max(length, 0) / BLOCK_BYTES) * BLOCK_BYTES;
}

/**
 * Writes `data` at `position`, leaving out each block of zeros; `zeros` is at least as long.
 * Resolves with whether its last block was written. The
 * comparisons are the runtime's native ones: a loop over the words in JavaScript took Bun 0.48 s
 * per GiB, against 0.04–0.09 s.
 */
async function writeData(
  output: FileHandle,
  data: Buffer,
  zeros: Buffer,
  position: number,
): Promise<boolean> {
  if ((data.length === zeros.length ? zeros : zeros.subarray(0, data.length)).equals(data)) {
    return false;
  }
  const block = zeros.subarray(0, BLOCK_BYTES);
  let start = -1;
  for (let at = 0; at < data.length; at += BLOCK_BYTES) {
    const part = data.subarray(at, at + BLOCK_BYTES);
    if (!(part.length === BLOCK_BYTES ? block : block.subarray(0, part.length)).equals(part)) {
      if (start < 0) start = at;
    } else if (start >= 0) {
      await writeAll(output, data, start, at, position);
      start = -1;
    }
  }
  if (start < 0) return false;
  await writeAll(output, data, start, data.length, position);
  return true;
}

async function writeAll(
  output: FileHandle,
  data: Buffer,
  start: number,
  end: number,
  position: number,
): Promise<void> {
  for (let at = start; at < end;) {
    const { bytesWritten } = await output.write(data, at, end - at, position + at);
    at += bytesWritten;
  }
}
