/**
 * A server whose sandbox probe never finishes still starts: past the step's limit the probe's
 * process group is killed, the step is logged, and environmentInfo reports no sandbox, saying why.
 */
import { describe, expect, test } from "bun:test";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { waitUntilDead } from "../helpers/proc.ts";
import { RUNTIMES, startCommandLine } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const ROOT = join(import.meta.dir, "..", "..");
const BIN = join(ROOT, "node_modules", ".bin");
const FIXTURE = join(ROOT, "test", "fixtures", "step_limit_server_fixture.ts");

describe.each(RUNTIMES)("start-up step limits (%s)", (runtime) => {
  test.concurrent("a stopped sandbox probe is killed, logged, and leaves the server without a sandbox", async () => {
    await using dir = await tempDir();
    const program = join(dir.path, "stopping.sh");
    const record = join(dir.path, "stopped");
    // As the probe it records its pid and stops itself; in any other mode it fails at once.
    await writeFile(
      program,
      `#!/bin/sh\nif [ "$1 $2" = "sandbox-exec --probe" ]; then echo $$ >> '${record}'; kill -STOP $$; fi\nexit 1\n`,
    );
    await chmod(program, 0o755);
    const command = runtime === "bun"
      ? [join(BIN, "bun"), FIXTURE]
      : [join(BIN, "deno"), "run", "-A", "--quiet", FIXTURE];
    await using server = await startCommandLine([...command, program, "300", "--listen", "ws://127.0.0.1:0"]);
    const pid = Number((await readFile(record, "utf8")).trim());
    await waitUntilDead(pid);
    await using client = await server.connect();
    const result = await client.initialize();
    const info = result["environmentInfo"] as { extensions: { sandbox: Record<string, unknown> } };
    expect(info.extensions.sandbox).toMatchObject({
      available: false,
      backend: "none",
      reason: "sandbox probe failed: the sandbox probe did not finish within 0.3 s; its process group was killed",
    });
    expect(server.stderr()).toContain("start-up step timed out: the sandbox probe did not finish within 0.3 s");
  });
});
