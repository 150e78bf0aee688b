/**
 * Launch plans: the argv that starts a program or the fs worker through the launcher.
 */
import { existsSync } from "node:fs";
import process from "node:process";
import type { RuntimeName } from "../runtime/mod.ts";
import { formatLauncherArgs } from "../launcher/mod.ts";
import type { Policy } from "./policy_types.ts";

/** A program and its arguments, ready to spawn. */
export interface LaunchCommand {
  readonly program: string;
  readonly args: string[];
}

/** What the launcher should finally execute. */
export interface LaunchTarget {
  /** Absolute path of the program. */
  readonly program: string;
  readonly args: readonly string[];
  readonly argv0: string;
}

/** What the runtime image needs to start, wherever the policy's roots are. */
const SYSTEM_IMAGE_PATHS: readonly string[] = [
  "/lib",
  "/lib64",
  "/usr/lib",
  "/usr/lib64",
  "/etc/ld.so.cache",
];

/** Deno permission flags the worker must not inherit from the server's own command line. */
function isDenoPermissionFlag(arg: string): boolean {
  return /^--(allow|deny)-/.test(arg) || /^--allow-all$/.test(arg) || /^-[ARWNESP](=|$)/.test(arg) ||
    arg === "-A";
}

/**
 * The command that runs `target` confined by `policy`: `<self> sandbox-exec <flags> -- <target>`.
 * `selfCommand` is the argv that starts this program again (`Runtime.selfCommand()`).
 */
export function sandboxedCommand(
  selfCommand: readonly string[],
  policy: Policy,
  target: LaunchTarget,
): LaunchCommand {
  return launcher(selfCommand, policy, { ...target, exec: [], list: [] });
}

/**
 * The command that starts the fs worker (`<self> fs-worker`) confined by `policy`, with read-only
 * access to what the runtime image needs; under Deno the worker also gets `--allow-read` and
 * `--allow-write` for the policy's roots (and no other permission) as a second fence.
 */
export function workerCommand(
  selfCommand: readonly string[],
  runtimeName: RuntimeName,
  policy: Policy,
): LaunchCommand {
  const [executable, ...rest] = selfCommand;
  if (executable === undefined) throw new RangeError("selfCommand is empty");
  const script = rest.length > 0 ? rest[rest.length - 1] : undefined;
  const exec = [executable, ...SYSTEM_IMAGE_PATHS];
  const list: string[] = [];
  let workerArgs: string[];
  switch (runtimeName) {
    case "bun":
      workerArgs = [...rest, "fs-worker"];
      // `bun script.ts` resolves modules by listing directories up to `/`.
      if (script !== undefined) {
        exec.push(projectRoot(script));
        list.push("/");
      }
      break;
    case "deno": {
      if (script === undefined) {
        workerArgs = ["fs-worker"];
        break;
      }
      const [subcommand, ...flags] = rest.slice(0, -1);
      const kept = flags.filter((flag) => !isDenoPermissionFlag(flag));
      // The fence must let Deno read its own sources: the runtime adapter is a dynamic import.
      const fence = denoFence(policy, [projectRoot(script)]);
      workerArgs = [subcommand ?? "run", ...kept, "--no-prompt", ...fence, script, "fs-worker"];
      exec.push(projectRoot(script), denoDir());
      break;
    }
    default: {
      const never: never = runtimeName;
      throw new TypeError(`unknown runtime ${String(never)}`);
    }
  }
  return launcher(selfCommand, policy, {
    program: executable,
    args: workerArgs,
    argv0: executable,
    exec,
    list,
  });
}

function launcher(
  selfCommand: readonly string[],
  policy: Policy,
  target: LaunchTarget & { exec: readonly string[]; list: readonly string[] },
): LaunchCommand {
  const [program, ...rest] = selfCommand;
  if (program === undefined) throw new RangeError("selfCommand is empty");
  const flags = formatLauncherArgs({
    readable: policy.readable,
    writable: policy.writable,
    denied: policy.denied,
    readOnly: policy.readOnly,
    exec: [...new Set(target.exec)],
    list: target.list,
    network: policy.network,
    without: [],
    program: target.program,
    argv0: target.argv0,
    args: target.args,
  });
  return { program, args: [...rest, "sandbox-exec", ...flags] };
}

/**
 * `--allow-read` and `--allow-write` for the policy's roots plus the worker's own sources (read
 * only); Deno reads `,,` as a literal comma.
 */
function denoFence(policy: Policy, sources: readonly string[]): string[] {
  const list = (paths: readonly string[]): string =>
    paths.map((path) => path.replaceAll(",", ",,")).join(",");
  const readable = [...new Set([...policy.readable, ...policy.writable, ...sources])];
  const flags: string[] = [];
  if (readable.length > 0) flags.push(`--allow-read=${list(readable)}`);
  if (policy.writable.length > 0) flags.push(`--allow-write=${list(policy.writable)}`);
  return flags;
}

function directoryOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

const PROJECT_ROOTS = new Map<string, string>();

/**
 * The directory tree the script's imports live in: the nearest ancestor holding `package.json`
 * (its `node_modules` and sources), else the script's own directory. Looked up once per script,
 * so the few `existsSync` calls happen on the first worker start only.
 */
function projectRoot(script: string): string {
  const cached = PROJECT_ROOTS.get(script);
  if (cached !== undefined) return cached;
  let root = directoryOf(script);
  for (let dir = root; dir !== "/"; dir = directoryOf(dir)) {
    if (existsSync(`${dir}/package.json`)) {
      root = dir;
      break;
    }
  }
  PROJECT_ROOTS.set(script, root);
  return root;
}

/** Deno's cache directory, as Deno itself picks it. */
function denoDir(): string {
  const env = process.env;
  if (env["DENO_DIR"] !== undefined && env["DENO_DIR"] !== "") return env["DENO_DIR"];
  if (env["XDG_CACHE_HOME"] !== undefined && env["XDG_CACHE_HOME"] !== "") {
    return `${env["XDG_CACHE_HOME"]}/deno`;
  }
  return `${env["HOME"] ?? "/root"}/.cache/deno`;
}
