import { fromWireError, RpcError } from "../protocol/mod.ts";
import type { FsMethod } from "../protocol/mod.ts";
import { bindHandlers, RpcPeer } from "../rpc/mod.ts";
import type { Handlers, RequestId } from "../rpc/mod.ts";
import type { ProcessStdio } from "../runtime/mod.ts";
import * as fs from "node:fs/promises";
import { DirectFileSystem } from "./direct_file_system.ts";
import { errnoError, errnoOf, fenceDenial } from "./error_map.ts";
import type { FenceDenial } from "./error_map.ts";
import { parentPath } from "./list_directory.ts";
import { callFileSystem } from "./file_system.ts";
import type { FsRequests, FsResults } from "../protocol/mod.ts";
import { LineSplitter } from "./line_splitter.ts";
import { LineWriter } from "./line_writer.ts";
import {
  CLOSE_SCOPE_METHOD,
  DROP_READ_METHOD,
  HELD_RESULT,
  RESUME_READ_METHOD,
  WORKER_ERROR_KINDS,
  WORKER_METHODS,
} from "./worker_protocol.ts";
import { HeldReads } from "./held_reads.ts";
import type { LargeWait } from "./large_wait.ts";

/**
 * The worker's own size limit is unbounded: the server sends the effective limit as `maxBytes`
 * with each `fs/readFile`.
 */
const WORKER_MAX_READ_FILE_BYTES = Number.MAX_SAFE_INTEGER;

/** What the worker's handlers see: the file system of a scope, and the end of a scope. */
interface WorkerContext {
  scope(scope: string): DirectFileSystem;
  closeScope(scope: string): Promise<void>;
  readonly held: HeldReads;
  /** Throws -32004 for a read of a path none of the worker's readable paths holds. */
  seen(method: FsMethod, request: unknown): void;
  /** The paths Deno's fence lets the worker read (`parseReadable`); null: no fence. */
  readonly readable: readonly string[] | null;
}

/** A worker handler of one fs method: the scope's `DirectFileSystem`, errors as the kernel gives them. */
function scoped<M extends Exclude<FsMethod, "fs/readFile" | ListingMethod>>(
  method: M,
): (params: { scope: string; request: FsRequests[M] }, context: WorkerContext) => Promise<FsResults[M]> {
  return async ({ scope, request }, context) => {
    context.seen(method, request);
    const written = writtenPath(method, request);
    return await confined(
      callFileSystem(context.scope(scope), method, request),
      written === null ? undefined : { path: written, readable: context.readable },
    );
  };
}

/** The path a write method creates or changes (see `confined`). */
function writtenPath(method: FsMethod, request: unknown): string | null {
  const { path, destinationPath, mode } = request as {
    readonly path?: unknown;
    readonly destinationPath?: unknown;
    readonly mode?: unknown;
  };
  const named = method === "fs/copy" ? destinationPath : path;
  if (typeof named !== "string") return null;
  switch (method) {
    case "fs/writeFile":
    case "fs/createDirectory":
    case "fs/remove":
    case "fs/copy":
      return named;
    case "fs/open":
      return mode === "replace" ? named : null;
    default:
      return null;
  }
}

/**
 * The methods that read the path they name before anything else: what they name must lie in one
 * of the worker's readable paths (an `fs/open` reads unless it replaces).
 */
function readsPath(method: FsMethod, request: unknown): string | null {
  const { path, mode } = request as { readonly path?: unknown; readonly mode?: unknown };
  if (typeof path !== "string") return null;
  switch (method) {
    case "fs/readFile":
    case "fs/getMetadata":
    case "fs/canonicalize":
    case "fs/readDirectory":
    case "fs/walk":
      return path;
    case "fs/open":
      return mode === "replace" ? null : path;
    default:
      return null;
  }
}

/**
 * The check behind `WorkerContext.seen`. The sandbox's mount namespace also holds the roots'
 * ancestors (directories of its own, so that the roots can be reached), the runtime and the
 * system libraries; Deno's fence refuses to read them, and the same check makes a Bun worker
 * answer as a Deno worker does: not found, as for any path outside every readable root
 * (PROTOCOL.md §8.7).
 */
function seenIn(readable: readonly string[] | null): (method: FsMethod, request: unknown) => void {
  return (method, request) => {
    if (readable === null) return;
    const path = readsPath(method, request);
    if (path === null) return;
    if (!holds(readable, path)) throw errnoError("ENOENT");
  };
}

/** Whether one of `readable` is `path` or an ancestor of it (as Deno's fence compares them). */
function holds(readable: readonly string[], path: string): boolean {
  return readable.some((root) => root === "/" || path === root || path.startsWith(`${root}/`));
}

/**
 * The readable paths of a worker's launch (`workerLaunch`): the arguments after `fs-worker
 * --readable`, one path each (a policy's roots can take more than the 128 KiB the kernel allows
 * one argument); null without the marker (a worker run without a sandbox, by tests).
 */
export function parseReadable(args: readonly string[]): readonly string[] | null {
  if (args[0] !== "--readable") return null;
  const paths = args.slice(1);
  if (!paths.every((path) => path.startsWith("/"))) {
    throw new TypeError("fs-worker: the readable paths must be absolute");
  }
  return paths;
}

/** The methods whose result grows with what a directory holds. */
type ListingMethod = "fs/readDirectory" | "fs/walk";

/**
 * A worker handler of a listing: it uses no file handle, so it runs on a `DirectFileSystem` of its
 * own request's reply limit, and stops there instead of writing a line the server refuses.
 */
function listing<M extends ListingMethod>(
  method: M,
): (
  params: { request: FsRequests[M]; maxReplyBytes?: number | undefined },
  context: WorkerContext,
) => Promise<FsResults[M]> {
  return async ({ request, maxReplyBytes }, context) => {
    context.seen(method, request);
    const fs = new DirectFileSystem({
      maxReadFileBytes: WORKER_MAX_READ_FILE_BYTES,
      maxReplyBytes: maxReplyBytes ?? Number.POSITIVE_INFINITY,
      confined: true,
    });
    return await confined(callFileSystem(fs, method, request));
  };
}

const WORKER_HANDLERS: Handlers<typeof WORKER_METHODS, WorkerContext> = {
  "fs/readFile": async ({ scope, request, hold }, context) => {
    context.seen("fs/readFile", request);
    const fs = context.scope(scope);
    if (hold === undefined) return await confined(fs.readFileBytes(request));
    const read = (large: LargeWait): Promise<Uint8Array> => confined(fs.readFileBytes(request, 0, large));
    return await context.held.start(scope, hold.id, hold.bytes, read) ?? HELD_RESULT;
  },
  "fs/writeFile": scoped("fs/writeFile"),
  "fs/createDirectory": scoped("fs/createDirectory"),
  "fs/getMetadata": scoped("fs/getMetadata"),
  "fs/canonicalize": scoped("fs/canonicalize"),
  "fs/readDirectory": listing("fs/readDirectory"),
  "fs/walk": listing("fs/walk"),
  "fs/remove": scoped("fs/remove"),
  "fs/copy": scoped("fs/copy"),
  "fs/open": scoped("fs/open"),
  "fs/readBlock": scoped("fs/readBlock"),
  "fs/writeBlock": scoped("fs/writeBlock"),
  "fs/close": scoped("fs/close"),
  [CLOSE_SCOPE_METHOD]: async ({ scope }, context) => {
    await context.closeScope(scope);
    return {};
  },
  [RESUME_READ_METHOD]: ({ scope, request }, context) => context.held.resume(scope, request.id),
  [DROP_READ_METHOD]: async ({ scope, request }, context) => {
    await context.held.drop(scope, request.id);
    return {};
  },
};

/**
 * Serves fs requests as JSON-RPC lines on `runtime.stdin()` with `DirectFileSystem`, many at once,
 * one response line each on stdout (`fs/readFile` followed by the file's raw bytes, see
 * `worker_protocol.ts`); handles live here, per scope. With `readable` (`parseReadable`), a read
 * of a path none of them holds answers not found. Resolves after stdin ends and every request has
 * been answered and every handle closed.
 */
export async function runFsWorker(
  runtime: Omit<ProcessStdio, "exit">,
  readable: readonly string[] | null = null,
): Promise<void> {
  const scopes = new Map<string, DirectFileSystem>();
  const writer = new LineWriter((data) => runtime.writeStdout(data));
  const writes = new Set<Promise<void>>();
  const write = (line: string, payload: Uint8Array | null): void => {
    const written = writer.write(line, payload).catch((error: unknown) => {
      // stdout is gone: the server has stopped listening, so there is nobody to answer.
      void runtime.writeStderr(`fs-worker: cannot write a response: ${String(error)}\n`);
    });
    writes.add(written);
    void written.finally(() => writes.delete(written));
  };
  const context: WorkerContext = {
    scope(scope) {
      let fs = scopes.get(scope);
      if (fs === undefined) {
        fs = new DirectFileSystem({ maxReadFileBytes: WORKER_MAX_READ_FILE_BYTES, confined: true });
        scopes.set(scope, fs);
      }
      return fs;
    },
    held: new HeldReads(),
    seen: seenIn(readable),
    readable,
    async closeScope(scope) {
      await context.held.dropScope(scope);
      await scopes.get(scope)?.closeAll();
      scopes.delete(scope);
    },
  };
  const peer = new RpcPeer<WorkerContext>({
    transport: {
      send: (text) => write(text, null),
      sendBytes: (id: RequestId, bytes) =>
        write(`{"id":${JSON.stringify(id)},"bytes":${bytes.length}}`, bytes),
    },
    serve: { routes: bindHandlers(WORKER_METHODS, WORKER_HANDLERS), context: () => context },
    jsonrpc: false,
    log: (message, detail) => {
      const text = detail instanceof Error ? detail.stack ?? detail.message : String(detail);
      void runtime.writeStderr(`fs-worker: ${message}: ${text}\n`);
    },
    // The server sends no responses to answer.
    remoteError: fromWireError,
  });
  for await (const line of runtime.stdin().pipeThrough(new LineSplitter())) {
    if (line !== "") void peer.receive(line);
  }
  await peer.idle();
  await context.held.dropAll();
  await Promise.all(writes);
  await Promise.all([...scopes.values()].map((fs) => fs.closeAll()));
}

/**
 * `operation`, with its failure as the server may see it: where Deno's fence refused first, the
 * error the kernel's view gives; an error the worker must not report becomes a plain Error, which
 * the engine logs and answers as -32603 `internal error`.
 */
async function confined<T>(
  operation: Promise<T>,
  written?: { readonly path: string; readonly readable: readonly string[] | null },
): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    const denial = fenceDenial(error);
    // The kernel refuses a write with Read-only file system wherever the sandbox holds a
    // directory, a root's ancestor too; outside every readable path, Deno's fence finds the path
    // not visible (`kernelAnswer`), and so does this.
    const reported = denial !== null
      ? await kernelAnswer(denial)
      : written?.readable != null && errnoOf(error) === "EROFS" && !holds(written.readable, written.path)
      ? errnoError("ENOENT")
      : error;
    if (reported instanceof RpcError && !isWorkerKind(reported.kind)) {
      throw new Error(`unexpected error kind ${reported.kind}`, { cause: reported });
    }
    throw reported;
  }
}

function isWorkerKind(kind: string): boolean {
  return (WORKER_ERROR_KINDS as readonly string[]).includes(kind);
}

/**
 * The error the kernel's view gives where Deno's fence refused first, so a Deno worker answers
 * like a Bun worker (PROTOCOL.md §8.7): a read is refused because the path is outside every
 * readable root, so it is not visible; a write is Read-only file system where the path or its
 * parent is visible, else not found; what the fence refuses on any path (creating a symlink) is
 * Permission denied, as an operation Landlock refuses.
 */
async function kernelAnswer(denial: FenceDenial): Promise<RpcError> {
  if (denial.access === "unscoped") return errnoError("EACCES");
  if (denial.access === "read") return errnoError("ENOENT");
  for (const candidate of [denial.path, parentPath(denial.path)]) {
    try {
      await fs.stat(candidate);
      return errnoError("EROFS");
    } catch (error) {
      if (errnoOf(error) !== "ENOENT") return errnoError("ENOENT");
    }
  }
  return errnoError("ENOENT");
}
