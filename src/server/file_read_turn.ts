import { FILE_TOO_LARGE } from "../fs/mod.ts";
import type { FsParams } from "../fs/mod.ts";
import { RpcError } from "../protocol/mod.ts";

/** A file of at most this many bytes is read without a slot among the server's large replies. */
export const SMALL_FILE_BYTES = 1_048_576;

/** What a read waits for: its connection's turn, and a slot among the server's large replies. */
export interface ReplyWaits {
  turn(): Promise<void>;
  slot(): Promise<void>;
}

/**
 * Reads a file for `fs/readFile` in its connection's turn, and waits for a slot among the server's
 * large replies (PROTOCOL.md §5.12) only for a file over `SMALL_FILE_BYTES`: clients that read
 * nothing hold the slots up to a second each, and a small file (every file a Codex client edits,
 * often) waited behind them for many seconds. A file's size is known only once it is opened, so the
 * first read is capped at `SMALL_FILE_BYTES`; a file over it is read again with the slot and the
 * request's own limit, which also makes its error, if any.
 */
export async function readFileInTurn<T>(
  params: FsParams["fs/readFile"],
  waits: ReplyWaits,
  read: (params: FsParams["fs/readFile"]) => Promise<T>,
): Promise<T> {
  await waits.turn();
  const own = params.maxBytes ?? null;
  if (own !== null && own <= SMALL_FILE_BYTES) return await read(params);
  try {
    return await read({ ...params, maxBytes: SMALL_FILE_BYTES });
  } catch (error) {
    if (!(error instanceof RpcError) || !error.message.startsWith(FILE_TOO_LARGE)) throw error;
  }
  await waits.slot();
  return await read(params);
}
