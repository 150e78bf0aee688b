import type { FsParams, LargeWait } from "../fs/mod.ts";

/** A file of at most this many bytes is read without a slot among the server's large replies. */
export const SMALL_FILE_BYTES = 1_048_576;

/** What a read waits for: its connection's turn, and a slot among the server's large replies. */
export interface ReplyWaits {
  turn(): Promise<void>;
  slot(): Promise<void>;
}

/**
 * Reads a file for `fs/readFile` in its connection's turn, and waits for a slot among the server's
 * large replies (PROTOCOL.md §5.12) only before it holds more than `SMALL_FILE_BYTES`: clients that
 * read nothing hold the slots up to a second each, and a small file (every file a Codex client
 * edits, often) waited behind them for many seconds. A file's size is known only once it is read,
 * so `read` gets the wait and reads on after it, on the same descriptor: a file whose reads consume
 * it, read again, would lose what the first read took.
 */
export async function readFileInTurn<T>(
  params: FsParams["fs/readFile"],
  waits: ReplyWaits,
  read: (params: FsParams["fs/readFile"], large: LargeWait) => Promise<T>,
): Promise<T> {
  await waits.turn();
  return await read(params, { heldBytes: SMALL_FILE_BYTES, wait: () => waits.slot() });
}
