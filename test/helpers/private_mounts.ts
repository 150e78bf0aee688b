import { serverCommand } from "./server.ts";
import type { RuntimeName } from "./server.ts";

/**
 * The command line of a server that starts once `mounts` (a shell command) ran in a mount namespace
 * of its own, with `prefix` (a uid drop, say) before the server: no other test sees the mounts.
 */
export function serverAfterMounts(
  runtime: RuntimeName,
  mounts: string,
  prefix: readonly string[] = [],
): string[] {
  return [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    `${mounts} && exec "$@"`,
    "sh",
    ...prefix,
    ...serverCommand(runtime),
  ];
}
