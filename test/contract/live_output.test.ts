/**
 * The output running processes keep across the server (PROTOCOL.md §5.4): at most 256 times
 * `--retained-output-bytes` in all. Past it, the session that keeps the most loses the oldest chunks
 * of its largest log, down to a little under the bound (1/64 of it); a reader sees droppedBytes.
 */
import { describe, expect, test } from "bun:test";
import { startServer } from "../helpers/server.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { startParams } from "../helpers/shared_server.ts";
import type { TestClient } from "../helpers/client.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const RETAINED = 1000;
/** Running processes whose whole output the server keeps with the flag above. */
const KEPT = 256;

/** Starts a process that prints RETAINED bytes at once and keeps running; resolves once they came. */
async function startPrinting(client: TestClient, processId: string, cwd: string): Promise<void> {
  const argv = ["sh", "-c", `head -c ${RETAINED} /dev/zero; exec sleep 60`];
  await client.call("process/start", startParams(processId, argv, cwd));
  await client.waitFor(processId, (events) => events.some((event) => event.method === "process/output"));
}

describe.each(RUNTIMES)("output of running processes on %s", (runtime) => {
  test("is bounded across the server, taken from the session that keeps the most, oldest first", async () => {
    await using server = await startServer({ runtime, args: ["--retained-output-bytes", String(RETAINED)] });
    await using dir = await tempDir();
    await using quiet = await server.session();
    await using busy = await server.session();
    await startPrinting(quiet, "first", dir.uri);
    const ids = Array.from({ length: KEPT + 2 }, (_, index) => `p${index}`);
    for (const id of ids) await startPrinting(busy, id, dir.uri);
    const read = async (client: TestClient, processId: string) => {
      const result = await client.call("process/read", { processId }) as {
        chunks: unknown[];
        droppedBytes: number;
        exited: boolean;
      };
      return { chunks: result.chunks.length, droppedBytes: result.droppedBytes, exited: result.exited };
    };
    // 257,000 bytes against a bound of 256,000 once p255 printed: the busy session's logs drop
    // from the oldest until 252,000 are left, five of them; the two after fit.
    expect({
      quiet: await read(quiet, "first"),
      oldest: await read(busy, "p0"),
      fifth: await read(busy, "p4"),
      sixth: await read(busy, "p5"),
      newest: await read(busy, ids.at(-1) ?? ""),
    }).toEqual({
      quiet: { chunks: 1, droppedBytes: 0, exited: false },
      oldest: { chunks: 0, droppedBytes: RETAINED, exited: false },
      fifth: { chunks: 0, droppedBytes: RETAINED, exited: false },
      sixth: { chunks: 1, droppedBytes: 0, exited: false },
      newest: { chunks: 1, droppedBytes: 0, exited: false },
    });
    for (const id of ids) {
      busy.send({ id: `t-${id}`, method: "process/terminate", params: { processId: id } });
    }
    await busy.call("process/terminate", { processId: ids.at(-1) ?? "" });
  }, 60_000);
});
