import { LargeListing } from "../fs/mod.ts";
import type { ReplyWaits } from "./file_read_turn.ts";

/**
 * Makes a listing (`fs/readDirectory`, `fs/walk`) in its connection's turn, and waits for a slot
 * among the server's large replies (PROTOCOL.md §5.12) only when it is large: clients that read
 * nothing hold the slots up to a second each, and an empty directory's listing waited behind them
 * for up to 13 s. A listing's size is known only once it is made, so `small` makes it within a
 * budget (`SMALL_LISTING_BYTES`) and says `LargeListing` past it; `whole` then makes it again, with
 * the slot and the request's own limits. A directory read twice loses nothing.
 */
export async function listInTurn<T>(
  waits: ReplyWaits,
  small: () => Promise<T>,
  whole: () => Promise<T>,
): Promise<T> {
  await waits.turn();
  try {
    return await small();
  } catch (error) {
    if (!(error instanceof LargeListing)) throw error;
  }
  await waits.slot();
  return await whole();
}
