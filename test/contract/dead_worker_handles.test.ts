/**
 * A sandboxed file handle lives in its policy's fs worker (protocol.md §8.6): when that process
 * dies, the handle's id stays the connection's until `fs/close`, and its reads and writes answer
 * WorkerFailed meanwhile, not `unknown file handle` (which contradicted `fs/open`'s `already
 * exists` for the same id; red team 14b). The worker is found among the server's children.
 */
import { describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { childrenOf, waitUntilDead } from "../helpers/proc.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { b64 } from "../helpers/shared_server.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const WORKER_FAILED = {
  code: -32603,
  message: "fs sandbox worker exited unexpectedly",
  data: { kind: "WorkerFailed" },
};

/** The live `fs-worker` children of `parent`. */
async function workersOf(parent: number): Promise<number[]> {
  return (await childrenOf(parent)).filter((child) => child.argv.includes("fs-worker")).map((child) =>
    child.pid
  );
}

describe.each(RUNTIMES)("handles of a dead fs worker on %s", (runtime) => {
  test("answer WorkerFailed until they are closed, and the id is free again after the close", async () => {
    // No spare: the server's only fs-worker child is this session's.
    await using server = await startServer({ runtime, args: ["--no-spare-launcher"] });
    await using dir = await tempDir();
    await writeFile(join(dir.path, "f"), "hello world");
    await using client = await server.session();
    const sandbox = managedSandbox({ write: [pathToUri(dir.path)] });
    const path = join(dir.path, "f");
    expect(await client.call("fs/open", { handleId: "r", path, sandbox })).toEqual({ handleId: "r" });
    const workers = await workersOf(server.child.pid ?? 0);
    expect(workers).toHaveLength(1);
    for (const pid of workers) process.kill(pid, "SIGKILL");
    for (const pid of workers) await waitUntilDead(pid);
    expect(await client.callError("fs/readBlock", { handleId: "r", offset: 0, len: 5 })).toMatchObject(
      WORKER_FAILED,
    );
    expect(await client.callError("fs/writeBlock", { handleId: "r", offset: 0, chunk: b64("x") }))
      .toMatchObject(
        WORKER_FAILED,
      );
    expect(await client.call("fs/close", { handleId: "r" })).toEqual({});
    expect(await client.call("fs/open", { handleId: "r", path, sandbox })).toEqual({ handleId: "r" });
    expect(await client.call("fs/readBlock", { handleId: "r", offset: 6, len: 5 })).toEqual({
      chunk: b64("world"),
      eof: true,
    });
  }, 60_000);
});
