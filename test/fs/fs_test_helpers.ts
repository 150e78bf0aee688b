import { existsSync } from "node:fs";
import * as fs from "node:fs/promises";
import { tmpdir } from "node:os";
import { RpcError } from "../../src/protocol/mod.ts";

/** A temp dir that removes itself; every fs call of a test aims inside it. */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
  /** `path` joined with a relative name. */
  join(name: string): string;
}

/** Makes a fresh temp dir under `base`, by default the OS temp dir. */
export async function tempDir(base: string = tmpdir()): Promise<TempDir> {
  const path = await fs.mkdtemp(`${base}/exec-server-fs-test-`);
  return {
    path,
    join: (name) => `${path}/${name}`,
    async [Symbol.asyncDispose]() {
      await fs.rm(path, { recursive: true, force: true });
    },
  };
}

/** The wire-relevant parts of an error. */
export interface ErrorFacts {
  code: number;
  kind: string;
  message: string;
  errno?: string;
}

/** The facts of the RpcError `promise` rejects with; fails when it resolves or throws anything else. */
export async function errorOf(promise: Promise<unknown>): Promise<ErrorFacts> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    const facts: ErrorFacts = { code: error.code, kind: error.kind, message: error.message };
    if (error.errno !== undefined) facts.errno = error.errno;
    return facts;
  }
  throw new Error("expected an RpcError, but the call succeeded");
}

/** Creates a FIFO at `path`. */
export function mkfifo(path: string): void {
  const result = Bun.spawnSync(["mkfifo", path]);
  if (result.exitCode !== 0) throw new Error(`mkfifo failed: ${result.stderr.toString()}`);
}

/** Python: nests argv[2] directories named `d` in argv[1] by relative mkdir, with a file `f` at the bottom. */
const NEST = [
  "import os, sys",
  "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)",
  "for _ in range(int(sys.argv[2])):",
  "    os.mkdir('d', dir_fd=fd)",
  "    inner = os.open('d', os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)",
  "    os.close(fd)",
  "    fd = inner",
  "os.close(os.open('f', os.O_WRONLY | os.O_CREAT, dir_fd=fd))",
].join("\n");

/**
 * A temp dir in memory (`/dev/shm`, where there is one) for a tree nested 12,000 deep. On this VM's
 * disk-backed `/tmp`, making and removing such a tree is journal work that took 6-37 s beside other
 * helpers' I/O, against 2-3 s in memory; what such a test is about is the depth (the walk's own
 * bound, and the runtimes' recursion per level), which does not depend on the file system.
 */
export function deepTreeTempDir(): Promise<TempDir> {
  return tempDir(existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
}

/**
 * The time a test of a tree nested 12,000 deep gets. Making and removing one is kernel work that
 * grows with the load (about 2 s each alone on this 2-core VM, 5 s for a whole case), and the
 * suite's 30 s ran out for a Deno worker's case at load 9 beside another test file.
 */
export const DEEP_TREE_MS = 120_000;

/**
 * Makes the directory `path` with `depth` directories nested in it, as a sandbox may (`mkdir d;
 * cd d` in a loop): deeper than any path can name.
 */
export async function nest(path: string, depth: number): Promise<void> {
  await fs.mkdir(path);
  const result = Bun.spawnSync(["python3", "-c", NEST, path, String(depth)]);
  if (result.exitCode !== 0) throw new Error(`nesting failed: ${result.stderr.toString()}`);
}

/** Base64 of a UTF-8 string. */
export function b64(text: string): string {
  return Buffer.from(text).toString("base64");
}

/** UTF-8 text of base64. */
export function unb64(data: string): string {
  return Buffer.from(data, "base64").toString();
}

/** The expected error of an errno, as PROTOCOL.md §7.1 lists it. */
export const OS = {
  ENOENT: {
    code: -32004,
    kind: "NotFound",
    message: "No such file or directory (os error 2)",
    errno: "ENOENT",
  },
  EEXIST: { code: -32603, kind: "AlreadyExists", message: "File exists (os error 17)", errno: "EEXIST" },
  ENOTDIR: {
    code: -32603,
    kind: "NotADirectory",
    message: "Not a directory (os error 20)",
    errno: "ENOTDIR",
  },
  EISDIR: { code: -32603, kind: "IsADirectory", message: "Is a directory (os error 21)", errno: "EISDIR" },
  ENOTEMPTY: {
    code: -32603,
    kind: "DirectoryNotEmpty",
    message: "Directory not empty (os error 39)",
    errno: "ENOTEMPTY",
  },
  ENAMETOOLONG: {
    code: -32603,
    kind: "OsError",
    message: "File name too long (os error 36)",
    errno: "ENAMETOOLONG",
  },
  EBADF: { code: -32603, kind: "OsError", message: "Bad file descriptor (os error 9)", errno: "EBADF" },
  EROFS: {
    code: -32603,
    kind: "ReadOnlyFilesystem",
    message: "Read-only file system (os error 30)",
    errno: "EROFS",
  },
  EACCES: {
    code: -32600,
    kind: "PermissionDenied",
    message: "Permission denied (os error 13)",
    errno: "EACCES",
  },
} as const;

/** -32600 InvalidInput with `message`. */
export function invalidInput(message: string): ErrorFacts {
  return { code: -32600, kind: "InvalidInput", message };
}

/** -32001 LimitReached of a listing whose result would pass the reply limit `limit`. */
export function overReplyLimit(method: string, limit: number): ErrorFacts {
  return {
    code: -32001,
    kind: "LimitReached",
    message: `${method} reply is over the reply limit of ${limit} bytes`,
  };
}

export { expectSparseCopy, writeSparse } from "../helpers/sparse_files.ts";
