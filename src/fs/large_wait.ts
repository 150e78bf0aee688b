/**
 * What a read waits for before it holds more than `heldBytes`: a slot among the server's large
 * replies (PROTOCOL.md §5.12). A file's size is known only once it is read (a /proc or tracefs file
 * reports 0, a file may grow), so the read waits when it gets there and then goes on reading the
 * same descriptor: reading the file again would lose what a file whose reads consume it (a
 * tracefs pipe, a FUSE stream) already gave.
 */
export interface LargeWait {
  readonly heldBytes: number;
  wait(): Promise<void>;
}
