/**
 * The bytes of one file copied into an empty one, its holes kept as holes (docs/performance.md,
 * "Copies that keep holes"). Where the runtime offers the kernel's calls (`FileRanges`) and the
 * source lies on a local disk or memory file system, the runs of data are found with `SEEK_DATA` /
 * `SEEK_HOLE` and copied by `copy_file_range`, off the server's thread; anywhere else, or from
 * where one of those calls fails, the file is read and written through the runtime's thread pool,
 * and a block of zeros is left unwritten, a hole in the copy (as `cp --sparse=always` does). The
 * destination's length is set last, so a trailing hole costs nothing either.
 */
import { Buffer } from "node:buffer";
import type { FileHandle } from "node:fs/promises";
import type { FileRanges } from "../runtime/mod.ts";

const READ_BYTES = 1 << 20;
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
  let from = 0;
  if (
    ranges !== null && options.size > 0 && await ranges.isLocalFile(input.fd)
  ) {
    const walk = await copyRuns(input.fd, output.fd, ranges, signal);
    if (walk.complete) {
      await output.truncate(Math.max(Number((await input.stat()).size), walk.end));
      return;
    }
    from = walk.from;
  }
  await output.truncate(await copyRead(input, output, from, options.size, signal));
}

/** Copies each run of data with `copy_file_range`, skipping the holes between them. */
async function copyRuns(
  input: number,
  output: number,
  ranges: FileRanges,
  signal: AbortSignal | undefined,
): Promise<Walk> {
  let offset = 0;
  for (;;) {
    signal?.throwIfAborted();
    const data = await ranges.nextData(input, offset);
    if (data === null) return { complete: true, end: offset };
    if (data < 0) return { complete: false, from: offset };
    const hole = await ranges.nextHole(input, data);
    if (hole < 0) return { complete: false, from: data };
    for (let at = data; at < hole;) {
      signal?.throwIfAborted();
      const copied = await ranges.copyRange(input, at, output, at, Math.min(hole - at, RANGE_BYTES));
      // 0: the file ended early (it shrank since); below 0: another file system pair, a file
      // system without the call: the read path takes over from here.
      if (copied === 0) return { complete: true, end: at };
      if (copied < 0) return { complete: false, from: at };
      at += copied;
    }
    offset = hole;
  }
}

/** Reads `input` from `from` to its end and writes what is not zeros; resolves with the end. */
async function copyRead(
  input: FileHandle,
  output: FileHandle,
  from: number,
  size: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  const length = Math.min(READ_BYTES, Math.max(roundUp(size - from), BLOCK_BYTES));
  const buffer = Buffer.alloc(length);
  const zeros = Buffer.alloc(length);
  let position = from;
  for (;;) {
    signal?.throwIfAborted();
    // From the start, at the descriptor's own offset, as a file of /proc is read.
    const { bytesRead } = await input.read(buffer, 0, length, from === 0 ? null : position);
    if (bytesRead === 0) return position;
    await writeData(output, buffer.subarray(0, bytesRead), zeros, position);
    position += bytesRead;
  }
}

function roundUp(length: number): number {
  return Math.ceil(Math.max(length, 0) / BLOCK_BYTES) * BLOCK_BYTES;
}

/**
 * Writes `data` at `position`, leaving out each block of zeros; `zeros` is at least as long. The
 * comparisons are the runtime's native ones: a loop over the words in JavaScript took Bun 0.48 s
 * per GiB, against 0.04–0.09 s.
 */
async function writeData(output: FileHandle, data: Buffer, zeros: Buffer, position: number): Promise<void> {
  if (zeros.equals(data.length === zeros.length ? data : zeros.subarray(0, data.length))) {
    return;
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
  if (start >= 0) await writeAll(output, data, start, data.length, position);
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
