import { describe, expect, test } from "bun:test";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe.each(RUNTIMES)("process/start on %s", (runtime) => {
  test("reports output, exit code 3 and closed in seq order", async () => {
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    await using client = await server.session();
    const result = await client.call("process/start", {
      processId: "p1",
      argv: ["sh", "-c", "echo hi; exit 3"],
      cwd: dir.uri,
      env: {},
      tty: false,
    });
    expect(result).toEqual({ processId: "p1", sandboxType: "none" });
    expect(await client.untilClosed("p1")).toEqual([
      { method: "process/output", seq: 1, stream: "stdout", text: "hi\n" },
      { method: "process/exited", seq: 2, exitCode: 3, sandboxDenied: false },
      { method: "process/closed", seq: 3 },
    ]);
  });
});
