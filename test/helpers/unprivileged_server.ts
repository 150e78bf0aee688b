import { chown } from "node:fs/promises";
import { join } from "node:path";
import { serverCommand, startServer } from "./server.ts";
import type { RuntimeName, TestServer } from "./server.ts";

/** The uid and gid of `nobody`, which may create no cgroup. */
export const NOBODY = 65534;

/**
 * Starts a server as `nobody`, which may create no cgroup, with `home` (handed to nobody) as its
 * home and Deno cache, and `env` besides.
 */
export async function startUnprivileged(
  runtime: RuntimeName,
  home: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<TestServer> {
  await chown(home, NOBODY, NOBODY);
  return await startServer({
    runtime,
    command: [
      "setpriv",
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      ...serverCommand(runtime),
    ],
    // The tests run as root: another user, whom a loopback listener refuses unless told otherwise.
    args: ["--allow-local-users", ...args],
    env: { HOME: home, DENO_DIR: join(home, "deno"), ...env },
  });
}
