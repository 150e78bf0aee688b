/**
 * The restrict-then-exec launcher (`exec-server sandbox-exec …`): a fresh process that confines
 * itself (mount namespace, capabilities, no_new_privs, seccomp, Landlock) and then execs the
 * program. It is its own folder so that the launcher starts without the server's module graph
 * (zod, hono): every sandboxed process pays for the launcher's start-up.
 */
export { runSandboxExec, SANDBOX_EXIT } from "./sandbox_exec.ts";
export type { ProbeReport } from "./sandbox_exec.ts";
export {
  ARGS_ON_STDIN,
  decodeStdinArgs,
  encodeStdinArgs,
  formatLauncherArgs,
  parseLauncherArgs,
} from "./launcher_args.ts";
export {
  isSandboxMountSource,
  SANDBOX_MOUNT_SOURCE,
  sandboxMountSource,
  statStartTime,
} from "./sandbox_label.ts";
export { syscallTable } from "./syscall_numbers.ts";
export { openFlags } from "./open_flags.ts";
export { decodeTargetEnv, encodeTargetEnv, TARGET_ENV_PREFIX } from "./target_env.ts";
export type { LauncherArgs, LauncherMode, OptionalLayer } from "./launcher_args.ts";
