/**
 * Reads a child's output stream chunk by chunk, reusing the memory of chunks already consumed
 * where the stream lets the reader supply it.
 *
 * Deno's pipes are byte streams: its default reader allocates and zeroes a fresh 64 KiB buffer for
 * every read, and the page faults of that buffer cost more than the read itself (about 0.3 ms per
 * pipe of a short-lived child; 256 MiB through a pipe took 400–700 ms against 230–270 ms read into
 * recycled buffers). Bun's pipes are not byte streams, so there this is the default reader.
 */

/** Bytes of one recycled buffer: a pipe's capacity, so one read can take all it holds. */
const BUFFER_BYTES = 65_536;
/** Buffers kept for reuse across every process: enough for the pipes read at once, 1 MiB in all. */
const POOL_LIMIT = 16;

const pool: ArrayBuffer[] = [];

/** Buffers waiting in the pool (a diagnostic: what a finished reader handed back shows here). */
export function pooledBuffers(): number {
  return pool.length;
}

/**
 * Hands back memory a reader's read returned, once nothing refers to it any more (a chunk an
 * output log kept and has dropped): it may take a later read.
 */
export function recycleBuffer(chunk: Uint8Array | undefined): void {
  const buffer = chunk?.buffer;
  // A read detaches the buffer it was given: only the one it handed back is usable.
  if (buffer instanceof ArrayBuffer && buffer.byteLength === BUFFER_BYTES && !buffer.detached) {
    if (pool.length < POOL_LIMIT && !pool.includes(buffer)) pool.push(buffer);
  }
}

/** What a read of either kind of reader answers. */
export type ChunkRead = ReadableStreamReadResult<Uint8Array> | ReadableStreamDefaultReadDoneResult;

/** A reader of output chunks. */
export interface ChunkReader {
  read(): Promise<ChunkRead>;
  /**
   * Hands back a chunk this reader returned (or a copy made from such chunks) that nothing refers
   * to any more: its memory may take the next read.
   */
  recycle(chunk: Uint8Array | undefined): void;
  releaseLock(): void;
  /** Stops reading: a read under way answers end of file, and the stream lets go of its source. */
  cancel(): Promise<void>;
}

/** A reader of `stream` that reads into recycled buffers when `stream` is a byte stream. */
export function chunkReader(stream: ReadableStream<Uint8Array>): ChunkReader {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    const reader = stream.getReader();
    return {
      read: () => reader.read(),
      recycle: () => {},
      releaseLock: () => reader.releaseLock(),
      cancel: () => reader.cancel(),
    };
  }
  return {
    read: () => byob.read(new Uint8Array(pool.pop() ?? new ArrayBuffer(BUFFER_BYTES))),
    recycle: recycleBuffer,
    releaseLock: () => byob.releaseLock(),
    cancel: () => byob.cancel(),
  };
}
