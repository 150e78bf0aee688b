/**
 * A sandbox on btrfs (docs/security.md): a snapshot of a subvolume copies all of it, whatever the
 * policy's mounts cover, into a place the sandbox may read. Each server runs in a mount namespace
 * of its own, where a loop-mounted btrfs image holds the workspace as a subvolume with a denied
 * `.env` in it, so no other test sees the mount. Skipped where the host cannot make one (not root,
 * no btrfs in the kernel, no `mkfs.btrfs`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { serverAfterMounts } from "../helpers/private_mounts.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";

/** The uid of `nobody`, as which the unprivileged server runs. */
const NOBODY = 65534;
const SECRET = "denied in the workspace\n";

const CAN_MAKE_BTRFS = process.getuid?.() === 0 &&
  readFileSync("/proc/filesystems", "utf8").includes("\tbtrfs\n") &&
  spawnSync("mkfs.btrfs", ["--version"]).status === 0;

/**
 * Tries both snapshot requests (BTRFS_IOC_SNAP_CREATE and its V2) of the subvolume `argv[1]` into
 * itself, and prints for each what the call answered and what the copy of `.env` holds.
 */
const SNAPSHOT = `import errno, fcntl, os, struct, sys
ws = sys.argv[1]
source = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
for name, request, args in (
    ("v1", 0x50009401, struct.pack("q4088s", source, b"snap1")),
    ("v2", 0x50009417, struct.pack("qQQ32s4040s", source, 0, 0, b"", b"snap2"))):
    try:
        fcntl.ioctl(source, request, bytearray(args), True)
        print(name, "made")
    except OSError as error:
        print(name, "refused", errno.errorcode[error.errno])
    copy = os.path.join(ws, "snap" + name[1], ".env")
    if os.path.exists(copy):
        print(name, "copy holds", open(copy).read().strip())
`;

let ids = 0;

describe.skipIf(!CAN_MAKE_BTRFS).each(RUNTIMES)("a sandbox on btrfs, on %s", (runtime) => {
  let dir = "";
  const servers: { root: TestServer | null; nobody: TestServer | null } = { root: null, nobody: null };

  /** A server (as `drop` says) in a mount namespace of its own, with `image` mounted at `mount`. */
  async function serveOn(name: "root" | "nobody", owner: number, drop: string[]): Promise<TestServer> {
    const image = join(dir, `${name}.img`);
    const mount = join(dir, name);
    await fs.writeFile(image, "");
    await fs.truncate(image, 256 * 1024 * 1024);
    expect(spawnSync("mkfs.btrfs", ["-q", image]).status).toBe(0);
    await fs.mkdir(mount);
    const ws = join(mount, "ws");
    const setup = [
      `mount -o loop ${image} ${mount}`,
      `btrfs -q subvolume create ${ws}`,
      `printf '${SECRET.trimEnd()}\\n' > ${ws}/.env`,
      `chown -R ${owner}:${owner} ${mount}`,
    ].join(" && ");
    return await startServer({
      runtime,
      command: serverAfterMounts(runtime, setup, drop),
      args: ["--allow-local-users"],
      env: { HOME: dir },
    });
  }

  beforeAll(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), "exec-server-btrfs-"));
    await fs.chmod(dir, 0o755);
    servers.root = await serveOn("root", 0, []);
    const drop = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--"];
    servers.nobody = await serveOn("nobody", NOBODY, drop);
  });
  afterAll(async () => {
    await servers.root?.[Symbol.asyncDispose]();
    await servers.nobody?.[Symbol.asyncDispose]();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test.each(["root", "nobody"] as const)(
    "a %s server's sandbox snapshots no subvolume, which would copy what its policy denies",
    async (name) => {
      const server = servers[name];
      if (server === null) throw new Error("the server has not started");
      await using client = await server.session();
      const ws = join(dir, name, "ws");
      const id = `b${++ids}`;
      await client.call(
        "process/start",
        startParams(id, ["sh", "-c", `cat .env; exec python3 -c "$0" ${ws}`, SNAPSHOT], ws, {
          env: CHILD_PATH,
          sandbox: managedSandbox({ write: [pathToUri(ws)], deny: [pathToUri(join(ws, ".env"))] }),
        }),
      );
      await client.untilClosed(id);
      expect(client.outputText(id)).toBe("v1 refused EPERM\nv2 refused EPERM\n");
    },
    120_000,
  );
});
