/**
 * A root server inside a user namespace that maps many users (a container's root): a directory of
 * a mapped user but an unmapped group is one its launcher cannot search, and its sandbox, which
 * keeps CAP_SETUID and CAP_SETGID as root, can become that user and search it. A kernel-interface
 * mount below it is no mount the sandbox cannot reach.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RUNTIMES, serverCommand, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/client.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";

/** A user the namespace maps, whose directory holds the mount. */
const OWNER = 1000;
/** Groups the namespace maps: 0 to 999. The directory's group lies past them. */
const MAPPED_GROUPS = 1000;
const UNMAPPED_GROUP = 5000;
const TOKEN = "userns-root-test-token-0123456789abcdef";

describe.each(RUNTIMES)(
  "a kernel-interface mount below a directory a root sandbox's user may take, on %s",
  (runtime) => {
    let server: TestServer | null = null;
    let base = "";
    let shut = "";

    beforeAll(async () => {
      base = await fs.mkdtemp(join(tmpdir(), "exec-server-userns-root-"));
      // Searchable by every user down to the directory that holds the mount.
      await fs.chmod(base, 0o755);
      shut = join(base, "shut");
      await fs.mkdir(join(shut, "mq"), { recursive: true });
      await fs.chown(shut, OWNER, UNMAPPED_GROUP);
      await fs.chmod(shut, 0o700);
      // The server cannot look into this process's descriptors from inside its user namespace: a
      // token lets the test's connection in.
      await fs.writeFile(join(base, "token"), `${TOKEN}\n`, { mode: 0o600 });
      server = await startServer({
        runtime,
        // The queue file system (of an IPC namespace of its own) is mounted in a mount namespace of
        // the server's own (no other test sees either), then the server runs as root of a user namespace mapping users 0-65535 and groups
        // 0-999 to themselves.
        command: [
          "unshare",
          "--mount",
          "--ipc",
          "--propagation",
          "private",
          "--",
          "sh",
          "-c",
          // util-linux's unshare maps many ids only through newuidmap, which the host may lack; root
          // writes the maps of the child's namespace itself once the child made it.
          `set -e; mount -t mqueue mqueue ${shut}/mq; mkfifo ${base}/up ${base}/go; ` +
          `unshare --user -- sh -c 'echo > "$0/up"; read _ < "$0/go"; exec "$@"' ${base} "$@" & p=$!; ` +
          `trap 'kill $p' TERM; read _ < ${base}/up; echo '0 0 65536' > /proc/$p/uid_map; ` +
          `echo '0 0 ${MAPPED_GROUPS}' > /proc/$p/gid_map; echo > ${base}/go; wait $p || wait $p`,
          "sh",
          ...serverCommand(runtime),
        ],
        args: ["--ws-auth", "capability-token", "--ws-token-file", join(base, "token")],
        env: { HOME: base },
      });
    });
    afterAll(async () => {
      await server?.[Symbol.asyncDispose]();
      await fs.rm(base, { recursive: true, force: true });
    });

    test("no writable-/ sandbox writes it, as the directory's owner", async () => {
      if (server === null) throw new Error("the server has not started");
      await using client = await TestClient.connect(server.url, {
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      await client.initialize();
      const writable = {
        permissions: { type: "managed", file_system: { type: "unrestricted" }, network: "restricted" },
        windowsSandboxLevel: "disabled",
      };
      const script =
        `setpriv --reuid=${OWNER} --regid=0 --clear-groups -- touch ${shut}/mq/planted && echo written; echo ran`;
      await client.call(
        "process/start",
        startParams("p1", ["sh", "-c", script], base, { env: CHILD_PATH, sandbox: writable }),
      );
      await client.untilClosed("p1");
      const out = client.outputText("p1");
      // A sandbox of a root launcher may take any id the namespace maps: the launch is refused, the
      // mount named, as anywhere a sandbox could open the way to it.
      expect(out).not.toContain("ran\n");
      expect(out).toContain(
        `${shut}/mq, a kernel interface, lies below a directory the launcher cannot search`,
      );
      await expect(fs.stat(join(shut, "mq", "planted"))).rejects.toThrow();
    });
  },
);
