/**
 * A process gets stdin, stdout and stderr and nothing else, whatever the server itself inherited.
 * Whoever starts the server may leave descriptors open without close-on-exec (a supervisor's pipe,
 * a socket handed down); Deno's spawn passes those on to every child. A child that then outlives
 * its session (a daemon started with `&`) would hold, say, the write end of a supervisor's pipe,
 * which would never see end of file.
 */
import { describe, expect, test } from "bun:test";
import { pathToFileURL } from "node:url";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import type { TestClient } from "../helpers/client.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** `ls` reads the shell's descriptor table while the shell holds nothing of its own open. */
const LIST_DESCRIPTORS = ["sh", "-c", "ls -l /proc/$$/fd"];

/** The descriptor numbers a started process listed. */
async function descriptorsListed(
  client: TestClient,
  processId: string,
  cwd: string,
  overrides: Record<string, unknown>,
): Promise<string[]> {
  await client.call(
    "process/start",
    startParams(processId, LIST_DESCRIPTORS, cwd, { env: CHILD_PATH, ...overrides }),
  );
  await client.untilClosed(processId);
  const lines = client.outputText(processId).split(/\r?\n/).filter((line) => line.includes(" -> "));
  return lines.map((line) => line.split(" -> ")[0]?.split(" ").at(-1) ?? line);
}

describe.each(RUNTIMES)("descriptors the server inherited, on %s", (runtime) => {
  test("reach no process: pipes, terminal or sandboxed", async () => {
    await using server = await startServer({ runtime, extraPipes: 2 });
    await using dir = await tempDir();
    await using client = await server.session();
    expect(await descriptorsListed(client, "pipes", dir.uri, {})).toEqual(["0", "1", "2"]);
    expect(await descriptorsListed(client, "terminal", dir.uri, { tty: true })).toEqual(["0", "1", "2"]);
    const sandbox = managedSandbox({ write: [pathToFileURL(dir.path).href] });
    expect(await descriptorsListed(client, "sandboxed", dir.uri, { sandbox })).toEqual(["0", "1", "2"]);
  });
});
