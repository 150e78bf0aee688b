import type { FileSystem, FsMethod, FsRequests, FsResults } from "../protocol/mod.ts";

type FsOperations = {
  [M in FsMethod]: (fs: FileSystem, request: FsRequests[M], signal?: AbortSignal) => Promise<FsResults[M]>;
};

const OPERATIONS: FsOperations = {
  "fs/readFile": (fs, request, signal) => fs.readFile(request, signal),
  "fs/writeFile": (fs, request, signal) => fs.writeFile(request, signal),
  "fs/createDirectory": (fs, request, signal) => fs.createDirectory(request, signal),
  "fs/getMetadata": (fs, request, signal) => fs.getMetadata(request, signal),
  "fs/canonicalize": (fs, request, signal) => fs.canonicalize(request, signal),
  "fs/readDirectory": (fs, request, signal) => fs.readDirectory(request, signal),
  "fs/walk": (fs, request, signal) => fs.walk(request, signal),
  "fs/remove": (fs, request, signal) => fs.remove(request, signal),
  "fs/copy": (fs, request, signal) => fs.copy(request, signal),
  "fs/open": (fs, request, signal) => fs.open(request, signal),
  "fs/readBlock": (fs, request, signal) => fs.readBlock(request, signal),
  "fs/writeBlock": (fs, request, signal) => fs.writeBlock(request, signal),
  "fs/close": (fs, request, signal) => fs.close(request, signal),
};

/** Calls the `FileSystem` method that serves the fs method `method`. */
export function callFileSystem<M extends FsMethod>(
  fs: FileSystem,
  method: M,
  request: FsRequests[M],
  signal?: AbortSignal,
): Promise<FsResults[M]> {
  const operation: FsOperations[M] = OPERATIONS[method];
  return operation(fs, request, signal);
}
