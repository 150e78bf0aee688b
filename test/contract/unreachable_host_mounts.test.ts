/**
 * A host whose kernel-interface mounts lie where the server's user cannot go: a container
 * runtime's root-only directory holding each container's `/proc` and `/sys`, say. An unprivileged
 * server's sandbox with `/` readable shows the host as that user sees it, so a mount that user
 * cannot reach is nothing the sandbox can write, and no reason to refuse every launch.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serverAfterMounts } from "../helpers/private_mounts.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { pathToUri } from "../../src/protocol/mod.ts";

/** The uid of `nobody`, as which the server runs. */
const NOBODY = 65534;

describe.each(RUNTIMES)("a kernel-interface mount the unprivileged server cannot reach, on %s", (runtime) => {
  let server: TestServer | null = null;
  let ownedServer: TestServer | null = null;
  let hidden = "";
  let home = "";
  let owned = "";

  /** The unprivileged server, started once `mounts` (a shell command) ran in a mount namespace of its own. */
  function serveAfter(mounts: string): Promise<TestServer> {
    const drop = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--"];
    return startServer({
      runtime,
      // In a mount namespace of the server's own, so no other test sees the mounts.
      command: serverAfterMounts(runtime, mounts, drop),
      args: ["--allow-local-users"],
      env: { HOME: home },
    });
  }

  beforeAll(async () => {
    // Root's, mode 0700: nobody cannot look inside.
    hidden = await fs.mkdtemp(join(tmpdir(), "exec-server-root-only-"));
    await fs.mkdir(join(hidden, "proc"));
    home = await fs.mkdtemp(join(tmpdir(), "exec-server-nobody-"));
    await fs.chown(home, NOBODY, NOBODY);
    // The server's user's own, mode 0000 once the queue file system is mounted in it; its group,
    // root's, is one the launcher's user namespace does not map, so the launcher cannot search it.
    owned = join(home, "owned");
    await fs.mkdir(join(owned, "mq"), { recursive: true });
    await fs.chown(owned, NOBODY, 0);
    server = await serveAfter(`mount -t proc proc ${hidden}/proc`);
    ownedServer = await serveAfter(`mount -t mqueue mqueue ${owned}/mq && chmod 0 ${owned}`);
  });
  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
    await ownedServer?.[Symbol.asyncDispose]();
    await fs.rm(home, { recursive: true, force: true });
    await fs.rm(hidden, { recursive: true, force: true });
  });

  /** Runs `script` under `sh -c` in `sandbox`; resolves with its exit code and output. */
  async function run(
    sandbox: unknown,
    script: string,
    on = server,
  ): Promise<{ code: number | null; out: string }> {
    if (on === null) throw new Error("the server has not started");
    await using client = await on.session();
    const id = `p${++ids}`;
    await client.call(
      "process/start",
      startParams(id, ["sh", "-c", script], home, { env: CHILD_PATH, sandbox }),
    );
    const events = await client.untilClosed(id);
    const exited = events.find((event) => event.method === "process/exited");
    return { code: exited?.method === "process/exited" ? exited.exitCode : null, out: client.outputText(id) };
  }
  let ids = 0;

  test("does not stop a sandboxed process that reads the whole file system", async () => {
    const readable = {
      permissions: {
        type: "managed",
        file_system: {
          type: "restricted",
          entries: [
            { path: { type: "path", path: pathToUri("/") }, access: "read" },
            { path: { type: "path", path: pathToUri(home) }, access: "write" },
          ],
        },
        network: "restricted",
      },
      windowsSandboxLevel: "disabled",
    };
    expect(await run(readable, `ls ${hidden} 2>/dev/null || echo hidden; echo ran`)).toEqual({
      code: 0,
      out: "hidden\nran\n",
    });
  });

  test("does not stop a sandboxed process that may write the whole file system, which cannot reach it either", async () => {
    // A directory of another user's, which the launcher cannot search, is one the sandbox can
    // neither search, re-mode nor empty: renaming it carries the mount along inside it.
    const writable = {
      permissions: { type: "managed", file_system: { type: "unrestricted" }, network: "restricted" },
      windowsSandboxLevel: "disabled",
    };
    const script =
      `mv ${hidden} ${hidden}.moved 2>/dev/null || echo kept; chmod 755 ${hidden} 2>/dev/null || echo kept; ` +
      `ls ${hidden}/proc/1 2>/dev/null || echo hidden; echo ran`;
    expect(await run(writable, script)).toEqual({ code: 0, out: "kept\nkept\nhidden\nran\n" });
  });

  test("refuses, naming it, where the directory the launcher cannot search is the server's user's own", async () => {
    // The sandbox owns that directory and may make it searchable again, to reach the mount below.
    const writable = {
      permissions: { type: "managed", file_system: { type: "unrestricted" }, network: "restricted" },
      windowsSandboxLevel: "disabled",
    };
    const result = await run(
      writable,
      `chmod 755 ${owned} && touch ${owned}/mq/planted && echo written; echo ran`,
      ownedServer,
    );
    expect(result.out).not.toContain("ran\n");
    expect(result.out).toContain(
      `${owned}/mq, a kernel interface, lies below a directory the launcher cannot search`,
    );
  });
});
