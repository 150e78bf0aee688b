/**
 * Launch plans: how a sandboxed program or fs worker is started through the launcher. The
 * launcher runs as the server's user before it has confined itself, so it starts in `/` with a
 * fixed environment of the server's and reads nothing the sandbox could have written; the
 * program's cwd and environment travel as arguments and are applied once confined.
 */
import { ARGS_ON_STDIN, encodeTargetEnv, formatLauncherArgs } from "../launcher/mod.ts";
import type { PermissionFence, ProgramImage } from "../runtime/mod.ts";
import { isWithin } from "./glob.ts";
import type { Policy } from "./policy_types.ts";

/**
 * The same launch by a spare launcher (`sandbox-exec --args-on-stdin`, started ahead of need with
 * the launch's program, `env` and `cwd` and `spareArgs`), once it reads `stdinArgs` from its stdin.
 */
export interface LaunchHandoff {
  readonly spareArgs: readonly string[];
  readonly stdinArgs: readonly string[];
}

/** A command ready to spawn: always in `/`, with exactly `env`. */
export interface Launch {
  readonly program: string;
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly handoff: LaunchHandoff;
}

/** What launch plans need of the server: its images and how to run them. */
export interface LaunchContext {
  /** What the launcher runs from. */
  readonly launcher: ProgramImage;
  /** What the fs worker runs from: one file (a bundle or the compiled program), nothing else. */
  readonly worker: ProgramImage;
  /** `Runtime.imageCommand`. */
  readonly command: (image: ProgramImage, args: readonly string[], fence?: PermissionFence) => string[];
  /** The launcher's own environment (`Runtime.imageEnv`), before the program's is added. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The directory of the runtime's code cache kept beside the images (`ProgramImages.cacheDir`),
   * which the worker may read; null when there is none.
   */
  readonly cacheDir?: string | null;
  /** What starts the launcher in a user namespace of its own (a non-root server), or null. */
  readonly userNamespaceHelper: readonly string[] | null;
}

/** What the launcher should finally execute. */
export interface LaunchTarget {
  /** Absolute path of the program. */
  readonly program: string;
  readonly args: readonly string[];
  readonly argv0: string;
  /** The program's working directory (entered once confined). */
  readonly cwd: string;
  /** The program's whole environment. */
  readonly env: Readonly<Record<string, string>>;
}

/** What the runtime image needs to start, wherever the policy's roots are. */
const SYSTEM_IMAGE_PATHS: readonly string[] = [
  "/lib",
  "/lib64",
  "/usr/lib",
  "/usr/lib64",
  "/etc/ld.so.cache",
];

/**
 * Devices of the `minimal` special that a write reaches on a read-only mount (the null device
 * takes the bytes), which Deno's fence passes once granted. It asks for `--allow-all` for
 * `/dev/full` and `/dev/tty` whatever the grants, so those two stay refused by the fence.
 */
const FENCE_DEVICES: readonly string[] = ["/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"];

/** The launch of `target` confined by `policy`. */
export function sandboxedLaunch(context: LaunchContext, policy: Policy, target: LaunchTarget): Launch {
  return launch(context, policy, { ...target, exec: [] });
}

/**
 * The launch of the fs worker confined by `policy`. It may read its own image (the runtime and
 * one file), the images' code cache and the system libraries besides the policy's roots (none of
 * them a secret: the bundle of the published sources, and what the runtime compiled of it);
 * under Deno it also gets
 * `--allow-read` and `--allow-write` for the roots (and no other permission) as a second fence.
 * The fence also lets it write the devices of `FENCE_DEVICES` that its roots show, as the kernel
 * lets any sandboxed process on their read-only mount, so that a Deno worker answers as a Bun
 * worker and the reference do.
 */
export function workerLaunch(context: LaunchContext, policy: Policy): Launch {
  const { executable, script } = context.worker;
  const companions = context.worker.companionFiles ?? [];
  const fence: PermissionFence = {
    read: [...policy.readable, ...policy.writable, ...(script === null ? [] : [script]), ...companions],
    write: [
      ...policy.writable,
      ...FENCE_DEVICES.filter((device) => policy.readable.some((root) => isWithin(device, root))),
    ],
  };
  // The worker answers a read outside what the fence lets it read as not found in either runtime
  // (`parseReadable`). One path per argument: the kernel refuses an argument over 128 KiB, which a
  // policy's roots can exceed in one list.
  const [program, ...args] = context.command(
    context.worker,
    ["fs-worker", "--readable", ...fence.read],
    fence,
  );
  if (program === undefined) throw new RangeError("the worker command is empty");
  return launch(context, policy, {
    program,
    args,
    argv0: program,
    cwd: "/",
    env: context.env,
    exec: [
      executable,
      ...(script === null ? [] : [script]),
      ...companions,
      ...(context.cacheDir == null ? [] : [context.cacheDir]),
      ...SYSTEM_IMAGE_PATHS,
    ],
  });
}

function launch(
  context: LaunchContext,
  policy: Policy,
  target: LaunchTarget & { readonly exec: readonly string[] },
): Launch {
  const flags = formatLauncherArgs({
    readable: policy.readable,
    writable: policy.writable,
    denied: policy.denied,
    readOnly: policy.readOnly,
    noLinksIn: policy.noLinksIn ?? [],
    exec: [...new Set(target.exec)],
    list: [],
    network: policy.network,
    cwd: target.cwd,
    without: [],
    program: target.program,
    argv0: target.argv0,
    args: target.args,
  });
  const command = (launcherArgs: readonly string[]) => [
    ...(context.userNamespaceHelper ?? []),
    ...context.command(context.launcher, ["sandbox-exec", ...launcherArgs]),
  ];
  const [program, ...args] = command(flags);
  const [, ...spareArgs] = command([ARGS_ON_STDIN]);
  if (program === undefined) throw new RangeError("the launcher command is empty");
  return {
    program,
    args,
    env: { ...context.env, ...encodeTargetEnv(target.env) },
    cwd: "/",
    handoff: { spareArgs, stdinArgs: flags },
  };
}
