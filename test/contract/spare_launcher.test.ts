/**
 * The spare fs worker launcher (docs/security.md): a server keeps one launcher started ahead of
 * need, the next sandboxed fs worker is that process once it has read its argv and confined itself,
 * and `--no-spare-launcher` keeps none. Facts come from /proc: which children the server has, and
 * what each one runs.
 */
import { describe, expect, test } from "bun:test";
import { pathToUri } from "../../src/protocol/mod.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { childrenOf, pollUntil, waitUntilDead } from "../helpers/proc.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const SPARE_FLAG = "--args-on-stdin";

async function sparesOf(parent: number): Promise<number[]> {
  return (await childrenOf(parent)).filter((child) => child.cmdline.includes(SPARE_FLAG)).map((child) =>
    child.pid
  );
}

describe.each(RUNTIMES)("the spare fs worker launcher on %s", (runtime) => {
  test(
    "the first sandboxed call's worker is the spare the server started, and the next spare follows",
    async () => {
      await using server = await startServer({ runtime });
      await using dir = await tempDir();
      const pid = server.child.pid ?? 0;
      const [spare] = await pollUntil(() => sparesOf(pid), (spares) => spares.length === 1, 20_000);
      expect(spare).toBeNumber();
      await using client = await server.session();
      const sandbox = managedSandbox({ write: [pathToUri(dir.path)] });
      expect(await client.call("fs/getMetadata", { path: dir.path, sandbox })).toMatchObject({
        isDirectory: true,
      });
      // The spare's process now runs the worker: it read its argv, confined itself and exec'd it.
      const worker = (await childrenOf(pid)).find((child) => child.pid === spare);
      expect(worker?.cmdline).toContain("fs-worker");
      expect(worker?.cmdline).not.toContain(SPARE_FLAG);
      const next = await pollUntil(() => sparesOf(pid), (spares) => spares.length === 1, 20_000);
      expect(next).toHaveLength(1);
      expect(next).not.toContain(spare);
    },
    60_000,
  );

  test(
    "a spare outlives no server: killed with SIGKILL, the server leaves its spare the end of its stdin",
    async () => {
      await using server = await startServer({ runtime });
      const pid = server.child.pid ?? 0;
      const [spare] = await pollUntil(() => sparesOf(pid), (spares) => spares.length === 1, 20_000);
      if (spare === undefined) throw new Error("the server started no spare launcher");
      server.child.kill("SIGKILL");
      await server.exited;
      await waitUntilDead(spare);
    },
    60_000,
  );

  test("--no-spare-launcher starts none, and a sandboxed call starts its own launcher", async () => {
    await using server = await startServer({ runtime, args: ["--no-spare-launcher"] });
    await using dir = await tempDir();
    const pid = server.child.pid ?? 0;
    await using client = await server.session();
    const sandbox = managedSandbox({ write: [pathToUri(dir.path)] });
    expect(await client.call("fs/getMetadata", { path: dir.path, sandbox })).toMatchObject({
      isDirectory: true,
    });
    // The call needed the images the spare would be started from: by now one would exist.
    const children = await childrenOf(pid);
    expect(children.filter((child) => child.cmdline.includes("fs-worker"))).toHaveLength(1);
    expect(children.filter((child) => child.cmdline.includes(SPARE_FLAG))).toEqual([]);
  }, 60_000);
});
