import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestClient } from "./client.ts";
import { CHILD_PATH, startParams } from "./shared_server.ts";
import type { TempDir } from "./temp_dir.ts";

/** 2 MiB of `.` in base64: written first, it holds every later write back (§5.7, 1 MiB bound). */
export const BULK_WRITE = Buffer.alloc(2 * 1024 * 1024, 0x2e).toString("base64");

/** A started child that reads nothing of its stdin until `release`. */
export interface HeldReader {
  /** Lets the child go on to `then`. */
  release(): Promise<void>;
}

/**
 * Starts `processId` with a stdin pipe: it waits for a line on a FIFO in `dir`, then runs the shell
 * command `then`, which may read its stdin. So the test decides when the child starts reading, and
 * writes queued before that are answered only after it.
 */
export async function startHeldReader(
  client: TestClient,
  options: { processId: string; dir: TempDir; then: string },
): Promise<HeldReader> {
  const fifo = join(options.dir.path, `${options.processId}.go`);
  execFileSync("mkfifo", [fifo]);
  const script = `read go < "$0"; ${options.then}`;
  await client.call(
    "process/start",
    startParams(options.processId, ["sh", "-c", script, fifo], options.dir.uri, {
      env: CHILD_PATH,
      pipeStdin: true,
    }),
  );
  return {
    // Opening the FIFO for writing waits until the child has it open for reading.
    release: () => writeFile(fifo, "go\n"),
  };
}
