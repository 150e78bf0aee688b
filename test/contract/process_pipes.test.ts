/**
 * A piped process's stdin, stdout and stderr (PROTOCOL.md §5.2): what the child gets, and what the
 * server keeps of them once the process is over.
 */
import { describe, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { b64, CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe.each(RUNTIMES)("process pipes on %s", (runtime) => {
  test("a closed process leaves none of its pipes open in the server", async () => {
    await using own = await startServer({ runtime });
    await using dir = await tempDir();
    await using client = await own.session();
    const descriptors = async (): Promise<number> => (await readdir(`/proc/${own.child.pid}/fd`)).length;
    const run = async (
      processId: string,
      argv: string[],
      options: { pipeStdin: boolean; input: boolean },
    ) => {
      await client.call(
        "process/start",
        startParams(processId, argv, dir.uri, { env: CHILD_PATH, pipeStdin: options.pipeStdin }),
      );
      if (options.input) {
        await client.call("process/write", { processId, chunk: b64("x\n") });
        await client.call("process/closeStdin", { processId });
      }
      await client.untilClosed(processId);
    };
    // Whatever the server opens once (its first spawn's libraries, a worker) is open by now.
    for (let i = 0; i < 3; i++) await run(`warm-${i}`, ["cat"], { pipeStdin: true, input: true });
    const before = await descriptors();
    for (let i = 0; i < 8; i++) {
      await run(`unread-${i}`, ["sh", "-c", "echo out; echo err >&2"], { pipeStdin: true, input: false });
      await run(`read-${i}`, ["cat"], { pipeStdin: true, input: true });
      await run(`null-${i}`, ["sh", "-c", "echo out; echo err >&2"], { pipeStdin: false, input: false });
    }
    // The server may let go of a pipe a moment after `closed`: wait for that, bounded.
    const deadline = performance.now() + 5_000;
    let after = await descriptors();
    while (after > before && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await descriptors();
    }
    expect(Math.max(0, after - before)).toBe(0);
  });
});
