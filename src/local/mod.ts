/**
 * The Local environment: this machine, through the server's own process table and file system.
 * It spawns, so it lives apart from the runtime-neutral client (`src/client`).
 */
export { LocalEnvironment } from "./local_environment.ts";
export type { LocalEnvironmentOptions } from "./local_environment.ts";
