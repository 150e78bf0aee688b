/**
 * A start-up probe child that never finishes (here: one that stops itself, as a SIGSTOP or an
 * exec hung on a dead network mount would leave it) must neither keep the server from starting
 * nor stay behind: past the step's limit its process group is killed, the step is logged, and the
 * server goes on without what the step would have proven.
 */
import { describe, expect, test } from "bun:test";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { NO_LIMITS, startContainment } from "../../src/containment/mod.ts";
import { detectRuntime } from "../../src/runtime/mod.ts";
import { detectHostFeatures, sandboxExtensionInfo } from "../../src/sandbox/mod.ts";
import { waitUntilDead } from "../helpers/proc.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/**
 * A program that records its pid in `stopped` and stops itself when `stopsWhen` (a shell test of
 * its arguments) holds, and otherwise runs as /bin/sh.
 */
async function stoppingProgram(
  dir: string,
  stopsWhen: string,
): Promise<{ program: string; pids: () => Promise<number[]> }> {
  const program = join(dir, "stopping.sh");
  const record = join(dir, "stopped");
  await writeFile(
    program,
    `#!/bin/sh\nif ${stopsWhen}; then echo $$ >> '${record}'; kill -STOP $$; fi\nexec /bin/sh "$@"\n`,
  );
  await chmod(program, 0o755);
  const pids = async () =>
    (await readFile(record, "utf8").catch(() => "")).split("\n").filter((line) => line !== "").map(Number);
  return { program, pids };
}

describe("start-up step limits", () => {
  test("a join helper trial and a cgroup probe that stop are killed, logged, and containment falls back", async () => {
    await using dir = await tempDir();
    const { program, pids } = await stoppingProgram(
      dir.path,
      `[ "$1" = "-c" ] && { [ "$2" = ":" ] || [ "$2" = "exit 0" ]; }`,
    );
    const runtime = await detectRuntime();
    const errors: string[] = [];
    const containment = await startContainment(runtime, {
      defaults: NO_LIMITS,
      onError: (message) => errors.push(message),
      onInfo: () => {},
      stateDir: dir.path,
      stepLimitMs: 300,
      shell: program,
    });
    try {
      // Each probe that ran stopped itself (or was killed before it could), and is gone now.
      for (const pid of await pids()) await waitUntilDead(pid);
      const timedOut = errors.filter((message) => message.startsWith("start-up step timed out"));
      expect(timedOut.length).toBeGreaterThan(0);
      expect(timedOut).toContain(
        "start-up step timed out: the join helper's trial run did not finish within 0.3 s; its process group was killed",
      );
      if (errors.some((message) => message.includes("cgroup probe"))) {
        expect(containment.info.backend).toBe("processTree");
        expect(containment.info.reason).toBe("the cgroup probe child did not finish within 0.3 s");
      }
    } finally {
      await containment.close();
    }
  });

  test("a sandbox probe that stops is killed and the sandbox is reported unavailable, saying why", async () => {
    await using dir = await tempDir();
    const { program, pids } = await stoppingProgram(dir.path, "true");
    const runtime = await detectRuntime();
    const timeouts: string[] = [];
    const features = await detectHostFeatures(runtime, {
      command: [program, "sandbox-exec", "--probe"],
      root: true,
      limitMs: 300,
      onTimeout: (message) => timeouts.push(message),
    });
    for (const pid of await pids()) await waitUntilDead(pid);
    const reason =
      "sandbox probe failed: the sandbox probe did not finish within 0.3 s; its process group was killed";
    expect(timeouts).toEqual([`start-up step timed out: ${reason.slice("sandbox probe failed: ".length)}`]);
    expect(sandboxExtensionInfo(features)).toMatchObject({ available: false, backend: "none", reason });
  });
});
