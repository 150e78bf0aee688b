/**
 * Sandbox workers held by file handles (protocol.md §8.6): a worker that holds an open handle
 * cannot be retired, and red team 14b's eight connections, each holding one handle under each of
 * eight policies, held all 64 of the server's workers, after which every other client's sandboxed
 * fs request answered -32001 until they closed them. Workers with handles now take at most 6 of a
 * session's 8 and 48 of the server's 64; the rest serve requests that need no handle.
 */
import { describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestClient } from "../helpers/client.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** Red team 14b's fill: this many connections (sessions), each under this many policies. */
const HOLDERS = 8;
const POLICIES = 8;

describe.each(RUNTIMES)("sandbox workers held by file handles on %s", (runtime) => {
  test("leave room for another client's sandboxed requests, and a refused open names its limit", async () => {
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    const roots = Array.from({ length: POLICIES + 1 }, (_, index) => join(dir.path, `p${index}`));
    for (const root of roots) {
      await mkdir(root);
      await writeFile(join(root, "f"), "held");
    }
    const open = (client: TestClient, handleId: string, root: string) =>
      client.request("fs/open", {
        handleId,
        path: join(root, "f"),
        sandbox: managedSandbox({ write: [root] }),
      });
    const holders = await Promise.all(Array.from({ length: HOLDERS }, () => server.session()));
    try {
      // Every holder opens a handle under each policy, all pipelined at once.
      const opened = await Promise.all(
        holders.map((client) =>
          Promise.all(roots.slice(0, POLICIES).map((root, index) => open(client, `h${index}`, root)))
        ),
      );
      await using other = await server.session();
      const otherRoot = roots[POLICIES] ?? "";
      const sandbox = managedSandbox({ write: [otherRoot] });
      // Another client's sandboxed request needs no handle: it is served.
      expect(await other.request("fs/getMetadata", { path: otherRoot, sandbox })).toMatchObject({
        result: { isDirectory: true },
      });
      // Each holder's opens past 6 of its session's 8 workers were refused, naming that limit.
      for (const replies of opened) {
        expect(replies.filter((reply) => reply["result"] !== undefined)).toHaveLength(6);
        for (const reply of replies.filter((reply) => reply["error"] !== undefined)) {
          expect(reply["error"]).toMatchObject({
            code: -32001,
            message:
              "sandbox worker limit reached: at most 6 of a session's 8 workers hold open file handles",
            data: { kind: "LimitReached" },
          });
        }
      }
      // The holders' 48 take the server's share: another client's open is refused, naming it.
      expect(await open(other, "mine", otherRoot)).toMatchObject({
        error: {
          code: -32001,
          message:
            "sandbox worker limit reached: at most 48 of the server's 64 workers hold open file handles",
          data: { kind: "LimitReached" },
        },
      });
      // Closing a handle frees its worker's place in the share.
      const [first] = opened;
      const held = first?.find((reply) => reply["result"] !== undefined)?.["result"] as { handleId: string };
      expect(await holders[0]?.call("fs/close", { handleId: held.handleId })).toEqual({});
      expect(await open(other, "mine", otherRoot)).toMatchObject({ result: { handleId: "mine" } });
    } finally {
      await Promise.all(holders.map((client) => client[Symbol.asyncDispose]()));
    }
  }, 240_000);
});
