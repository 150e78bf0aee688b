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
import { RUNTIMES, serverCommand, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";

/** The uid of `nobody`, as which the server runs. */
const NOBODY = 65534;

describe.each(RUNTIMES)("a kernel-interface mount the unprivileged server cannot reach, on %s", (runtime) => {
  let server: TestServer | null = null;
  let hidden = "";
  let home = "";
  beforeAll(async () => {
    // Root's, mode 0700: nobody cannot look inside.
    hidden = await fs.mkdtemp(join(tmpdir(), "exec-server-root-only-"));
    await fs.mkdir(join(hidden, "proc"));
    home = await fs.mkdtemp(join(tmpdir(), "exec-server-nobody-"));
    await fs.chown(home, NOBODY, NOBODY);
    const drop = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--"];
    // The procfs is mounted in a mount namespace of the server's own, so no other test sees it.
    const mountThenRun = 'mount -t proc proc "$0/proc" && exec "$@"';
    server = await startServer({
      runtime,
      command: [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        mountThenRun,
        hidden,
        ...drop,
        ...serverCommand(runtime),
      ],
      args: ["--allow-local-users"],
      env: { HOME: home },
    });
  });
  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
    await fs.rm(home, { recursive: true, force: true });
    await fs.rm(hidden, { recursive: true, force: true });
  });

  test("does not stop a sandboxed process with the whole file system readable", async () => {
    if (server === null) throw new Error("the server has not started");
    await using client = await server.session();
    const sandbox = {
      permissions: { type: "managed", file_system: { type: "unrestricted" }, network: "restricted" },
      windowsSandboxLevel: "disabled",
    };
    const script = `ls ${hidden} 2>/dev/null || echo hidden; echo ran`;
    await client.call(
      "process/start",
      startParams("p1", ["sh", "-c", script], home, { env: CHILD_PATH, sandbox }),
    );
    const events = await client.untilClosed("p1");
    const exited = events.find((event) => event.method === "process/exited");
    expect({
      code: exited?.method === "process/exited" ? exited.exitCode : null,
      out: client.outputText("p1"),
    }).toEqual({ code: 0, out: "hidden\nran\n" });
  });
});
