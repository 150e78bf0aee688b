/**
 * A listing (`fs/readDirectory`, `fs/walk`) whose JSON text stays within this many units is made
 * and sent without a slot among the server's large replies (PROTOCOL.md §5.12): clients that read
 * nothing hold the slots up to a second each, and an empty directory's listing waited behind them
 * for up to 13 s.
 */
export const SMALL_LISTING_BYTES = 1_048_576;

/**
 * The largest directory (its size on disk, as `stat` gives it) a listing without a slot reads. A
 * runtime reads a directory's names whole before the listing counts them, so a listing capped only
 * by its reply would still hold every name of a directory of millions at once, on every connection
 * that asks. A directory's size grows with its names on ext4, xfs, btrfs and tmpfs.
 */
export const SMALL_DIRECTORY_BYTES = 1_048_576;

/**
 * A listing made without a slot passed `SMALL_LISTING_BYTES` or met a directory over
 * `SMALL_DIRECTORY_BYTES`: it is made again, whole, with a slot.
 */
export class LargeListing extends Error {
  constructor(detail: string) {
    super(`the listing needs a large-reply slot: ${detail}`);
    this.name = "LargeListing";
  }
}
