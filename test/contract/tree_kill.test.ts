import { describe, expect, test } from "bun:test";
import { waitUntilDead } from "../helpers/proc.ts";
import { runServer } from "../helpers/run_servers.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe.each(RUNTIMES)("tree kill on %s", (runtime) => {
  test("process/terminate kills a descendant that left the process group", async () => {
    const server = await runServer(runtime);
    await using dir = await tempDir();
    await using client = await server.session();
    await client.call("process/start", {
      processId: "tree",
      argv: ["sh", "-c", "setsid sleep 300 > /dev/null 2>&1 & echo $!; wait"],
      cwd: dir.uri,
      env: { PATH: "/usr/bin:/bin" },
      tty: false,
    });
    await client.waitFor("tree", () => client.outputText("tree").includes("\n"));
    const pid = Number(client.outputText("tree").trim());
    expect(await client.call("process/terminate", { processId: "tree" })).toEqual({ running: true });
    await client.untilClosed("tree");
    await waitUntilDead(pid);
    expect(client.events("tree").find((event) => event.method === "process/exited")).toEqual({
      method: "process/exited",
      seq: 2,
      exitCode: 137,
      sandboxDenied: false,
    });
  });
});
