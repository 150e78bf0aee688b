import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";

/** A temp dir a test owns; removed when disposed. */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
  readonly uri: string;
}

/** Creates a fresh temp dir under the OS temp directory. */
export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), "exec-server-test-"));
  return {
    path,
    uri: pathToUri(path),
    async [Symbol.asyncDispose]() {
      await rm(path, { recursive: true, force: true });
    },
  };
}
