/**
 * The output closed processes keep across the server (PROTOCOL.md §3.9, §5.4): at most 256 times
 * `--retained-output-bytes` in all. Past it, the session that keeps the most loses the chunks of its
 * oldest closed process, which stays readable for its state and reports the loss as droppedBytes.
 */
import { describe, expect, test } from "bun:test";
import { startServer } from "../helpers/server.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { startParams } from "../helpers/shared_server.ts";
import type { TestClient } from "../helpers/client.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const RETAINED = 1000;
/** Closed processes whose whole output the server keeps with the flag above. */
const KEPT = 256;

async function runPrinting(client: TestClient, processId: string, cwd: string): Promise<void> {
  await client.call(
    "process/start",
    startParams(processId, ["head", "-c", String(RETAINED), "/dev/zero"], cwd),
  );
  await client.untilClosed(processId);
}

describe.each(RUNTIMES)("output of closed processes on %s", (runtime) => {
  test("is bounded across the server, taken from the session that keeps the most, oldest first", async () => {
    await using server = await startServer({ runtime, args: ["--retained-output-bytes", String(RETAINED)] });
    await using dir = await tempDir();
    await using quiet = await server.session();
    await using busy = await server.session();
    await runPrinting(quiet, "first", dir.uri);
    const ids = Array.from({ length: KEPT + 2 }, (_, index) => `p${index}`);
    for (const id of ids) await runPrinting(busy, id, dir.uri);
    const read = async (client: TestClient, processId: string) => {
      const result = await client.call("process/read", { processId }) as {
        chunks: unknown[];
        droppedBytes: number;
        closed: boolean;
      };
      return { chunks: result.chunks.length, droppedBytes: result.droppedBytes, closed: result.closed };
    };
    // 259 closed processes of 1,000 bytes against a bound of 256,000: the busy session's three
    // oldest lose their output.
    expect({
      quiet: await read(quiet, "first"),
      oldest: await read(busy, "p0"),
      fourth: await read(busy, "p3"),
      newest: await read(busy, ids.at(-1) ?? ""),
    }).toEqual({
      quiet: { chunks: 1, droppedBytes: 0, closed: true },
      oldest: { chunks: 0, droppedBytes: RETAINED, closed: true },
      fourth: { chunks: 1, droppedBytes: 0, closed: true },
      newest: { chunks: 1, droppedBytes: 0, closed: true },
    });
  }, 60_000);
});
