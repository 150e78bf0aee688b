import type { z } from "zod";
import { ErrorCode, RpcError } from "../protocol/mod.ts";
import { FS_PARAMS_SCHEMAS } from "../protocol/mod.ts";
import type { FsMethod } from "../protocol/mod.ts";
import type { Runtime } from "../runtime/mod.ts";
import * as fs from "node:fs/promises";
import { DirectFileSystem } from "./direct_file_system.ts";
import { errnoError, errnoOf, fenceDenial } from "./error_map.ts";
import type { FenceDenial } from "./error_map.ts";
import { parentPath } from "./list_directory.ts";
import { callFileSystem } from "./file_system.ts";
import type { FsRequests } from "./file_system.ts";
import { LineSplitter } from "./line_splitter.ts";
import { LineWriter } from "./line_writer.ts";
import { CLOSE_SCOPE_METHOD, WorkerErrorSchema, WorkerRequestSchema } from "./worker_protocol.ts";
import type { WorkerError } from "./worker_protocol.ts";

/**
 * The worker's own size limit is unbounded: the server sends the effective limit as `maxBytes`
 * with each `fs/readFile`.
 */
const WORKER_MAX_READ_FILE_BYTES = Number.MAX_SAFE_INTEGER;

/**
 * Serves fs requests as NDJSON on `runtime.stdin()` with `DirectFileSystem`, many at once, one
 * response line each on stdout (`fs/readFile` followed by the file's raw bytes, see
 * `worker_protocol.ts`); handles live here, per scope. Resolves after stdin ends and every
 * request has been answered and every handle closed.
 */
export async function runFsWorker(runtime: Runtime): Promise<void> {
  const scopes = new Map<string, DirectFileSystem>();
  const writer = new LineWriter((data) => runtime.writeStdout(data));
  const inflight = new Set<Promise<void>>();
  const scopeOf = (scope: string): DirectFileSystem => {
    let fs = scopes.get(scope);
    if (fs === undefined) {
      fs = new DirectFileSystem({ maxReadFileBytes: WORKER_MAX_READ_FILE_BYTES, confined: true });
      scopes.set(scope, fs);
    }
    return fs;
  };
  const serve = async (line: string): Promise<void> => {
    let id = -1;
    let response: string;
    let payload: Uint8Array | null = null;
    try {
      const request = WorkerRequestSchema.parse(JSON.parse(line));
      id = request.id;
      if (request.method === CLOSE_SCOPE_METHOD) {
        await scopes.get(request.scope)?.closeAll();
        scopes.delete(request.scope);
        response = JSON.stringify({ id, result: {} });
      } else if (request.method === "fs/readFile") {
        const params = parseRequest(request.method, request.params);
        payload = await scopeOf(request.scope).readFileBytes(params);
        response = JSON.stringify({ id, bytes: payload.length });
      } else {
        const params = parseRequest(request.method, request.params);
        const result = await callFileSystem(scopeOf(request.scope), request.method, params);
        response = JSON.stringify({ id, result });
      }
    } catch (error) {
      const denial = fenceDenial(error);
      const reported = denial === null ? error : await kernelAnswer(denial);
      response = JSON.stringify({ id, error: toWorkerError(reported, runtime) });
    }
    await writer.write(response, payload);
  };
  for await (const line of runtime.stdin().pipeThrough(new LineSplitter())) {
    if (line === "") continue;
    const task = serve(line).catch((error: unknown) => {
      // stdout is gone: the server has stopped listening, so there is nobody to answer.
      runtime.writeStderr(`fs-worker: cannot write a response: ${String(error)}\n`);
    });
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  }
  await Promise.all(inflight);
  await Promise.all([...scopes.values()].map((fs) => fs.closeAll()));
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

/** Each method's params schema, seen as producing that method's `FileSystem` request. */
const REQUEST_SCHEMAS: { [M in FsMethod]: z.ZodType<FsRequests[M]> } = FS_PARAMS_SCHEMAS;

function parseRequest<M extends FsMethod>(method: M, params: unknown): FsRequests[M] {
  const schema: z.ZodType<FsRequests[M]> = REQUEST_SCHEMAS[method];
  return schema.parse(params);
}

function toWorkerError(error: unknown, runtime: Runtime): WorkerError {
  if (error instanceof RpcError) {
    const wire = { code: error.code, kind: error.kind, message: error.message };
    const parsed = WorkerErrorSchema.safeParse(
      error.errno === undefined ? wire : { ...wire, errno: error.errno },
    );
    if (parsed.success) return parsed.data;
  }
  const detail = error instanceof Error ? error.stack ?? error.message : String(error);
  runtime.writeStderr(`fs-worker: internal error: ${detail}\n`);
  return { code: ErrorCode.Internal, kind: "Internal", message: "internal error" };
}
