/**
 * The walk of a file's runs of data behind `fs/copy` (`src/runtime/file_ranges.ts`): under both
 * runtimes it finds every run of a file of more runs than Bun's thread finds in one message
 * (`RUNS_PER_MESSAGE`), from the start and from inside a run, and ends with null where no data is
 * left. Under Bun the calls run on a thread of their own (red team 16b; the copy's test of that is
 * `test/contract/held_inode_lock.test.ts`).
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RUNS_PER_MESSAGE } from "../../src/runtime/bun_seek_thread.ts";
import { RUNTIMES, serverCommand } from "../helpers/server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const FIXTURE = join(ROOT, "test", "fixtures", "file_ranges_fixture.ts");
const X64 = process.platform === "linux" && process.arch === "x64";
const STRIDE = 64 * 1024;
const RUNS = 2 * RUNS_PER_MESSAGE + 5;

describe.skipIf(!X64).each(RUNTIMES)("the runs of data of a file, on %s", (runtime) => {
  test("are found one by one past a message's worth, from any offset, and end with null", () => {
    const dir = mkdtempSync(join(tmpdir(), "exec-server-test-"));
    try {
      const path = join(dir, "sparse");
      const fd = openSync(path, "w");
      // One page of data at the start of every stride, then a trailing hole.
      for (let i = 0; i < RUNS; i++) writeSync(fd, new Uint8Array(4096).fill(1), 0, 4096, i * STRIDE);
      ftruncateSync(fd, (RUNS + 1) * STRIDE);
      closeSync(fd);
      const [command = "", ...args] = runtime === "bun"
        ? [serverCommand(runtime)[0] ?? "", FIXTURE]
        : [serverCommand(runtime)[0] ?? "", "run", "-A", "--quiet", FIXTURE];
      const run = spawnSync(command, [...args, path, JSON.stringify([0, 5 * STRIDE + 100])], {
        encoding: "utf8",
        cwd: ROOT,
        env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
        timeout: 30_000,
      });
      expect(run.stderr).toBe("");
      const answer = JSON.parse(run.stdout) as { opened: boolean; walks: unknown[][] };
      // Where the host's file system keeps no holes, every walk is one run; ext4 and tmpfs keep them.
      expect(answer.opened).toBe(true);
      const runs = (from: number) =>
        Array.from(
          { length: RUNS - from },
          (_, i) => ({ start: (from + i) * STRIDE, end: (from + i) * STRIDE + 4096 }),
        );
      expect(answer.walks[0]).toEqual([...runs(0), null]);
      expect(answer.walks[1]).toEqual([
        { start: 5 * STRIDE + 100, end: 5 * STRIDE + 4096 },
        ...runs(6),
        null,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
