import type { FsMethod, METHODS } from "../protocol/mod.ts";
import type { Handlers } from "../rpc/mod.ts";
import type { FsResults } from "../protocol/mod.ts";
import type { FsParams } from "./fs_service.ts";

/** The fs methods of the wire's method table (PROTOCOL.md §4.3). */
export type FsMethodShapes = Pick<typeof METHODS, FsMethod>;

/** Runs parsed fs requests of one connection (an `FsConnection`). */
export interface FsRunner {
  run<M extends FsMethod>(method: M, params: FsParams[M], signal: AbortSignal): Promise<FsResults[M]>;
}

/** What an fs method runs against: one connection's fs side, and the request's cancellation. */
export interface FsMethodContext {
  readonly fs: FsRunner;
  readonly signal: AbortSignal;
  /**
   * Waits until the connection has room for a large reply (the server's, PROTOCOL.md §5.12); a
   * method whose reply can be large calls it before it reads anything. Absent: no wait.
   */
  readonly room?: () => Promise<void>;
  /**
   * Waits for the connection's own turn only, without a slot among the server's large replies: for
   * a reply that is never large (an `fs/readBlock` is 1 MiB at most), which other clients' large
   * replies would otherwise hold up, up to a second each for a client that does not read.
   */
  readonly turn?: () => Promise<void>;
}

/** Runs `method` once the connection has room for its reply. */
async function roomy<M extends FsMethod>(
  method: M,
  params: FsParams[M],
  { fs, signal, room }: FsMethodContext,
): Promise<FsResults[M]> {
  await room?.();
  return await fs.run(method, params, signal);
}

/** The fs methods on a connection's fs side; the server and the Local environment run them. */
export const FS_HANDLERS: Handlers<FsMethodShapes, FsMethodContext> = {
  "fs/readFile": (params, context) => roomy("fs/readFile", params, context),
  "fs/writeFile": (params, { fs, signal }) => fs.run("fs/writeFile", params, signal),
  "fs/createDirectory": (params, { fs, signal }) => fs.run("fs/createDirectory", params, signal),
  "fs/getMetadata": (params, { fs, signal }) => fs.run("fs/getMetadata", params, signal),
  "fs/canonicalize": (params, { fs, signal }) => fs.run("fs/canonicalize", params, signal),
  "fs/readDirectory": (params, context) => roomy("fs/readDirectory", params, context),
  "fs/walk": (params, context) => roomy("fs/walk", params, context),
  "fs/remove": (params, { fs, signal }) => fs.run("fs/remove", params, signal),
  "fs/copy": (params, { fs, signal }) => fs.run("fs/copy", params, signal),
  "fs/open": (params, { fs, signal }) => fs.run("fs/open", params, signal),
  "fs/readBlock": async (params, { fs, signal, turn }) => {
    await turn?.();
    return await fs.run("fs/readBlock", params, signal);
  },
  "fs/writeBlock": (params, { fs, signal }) => fs.run("fs/writeBlock", params, signal),
  "fs/close": (params, { fs, signal }) => fs.run("fs/close", params, signal),
};
