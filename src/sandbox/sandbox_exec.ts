/**
 * `exec-server sandbox-exec`: the restrict-then-exec launcher. It confines the calling thread
 * layer by layer and then `execve`s the program, so the whole new image (every thread it will
 * ever start) lives inside the confinement. A layer the policy needs that fails to apply ends
 * the launcher with a message on stderr and one of `SANDBOX_EXIT`; it never runs the program
 * with less confinement.
 */
import process from "node:process";
import { type Libc, openLibc } from "../runtime/mod.ts";
import type { RuntimeName } from "../runtime/mod.ts";
import { assemble } from "./bpf.ts";
import { applyLandlock, landlockAbi } from "./landlock.ts";
import { type LauncherArgs, type LauncherMode, parseLauncherArgs } from "./launcher_args.ts";
import { enterMountNamespace, MOUNT_FLAGS, SANDBOX_DEVICES } from "./mount_namespace.ts";
import { installSeccomp, SECCOMP_RET, seccompProgram } from "./seccomp_filter.ts";
import { Sys, SyscallError } from "./sys.ts";

/** Exit statuses of the launcher when it cannot run the program. */
export const SANDBOX_EXIT = {
  /** Malformed launcher arguments. */
  usage: 120,
  /** The mount namespace could not be built (or the cwd is not visible in it). */
  mountNamespace: 121,
  /** `PR_SET_NO_NEW_PRIVS` failed. */
  noNewPrivs: 122,
  /** The seccomp filter could not be installed. */
  seccomp: 123,
  /** Landlock is unavailable or the ruleset could not be applied. */
  landlock: 124,
  /** The C library could not be loaded through the runtime's FFI, or the CPU is unsupported. */
  ffi: 125,
  /** `execve` failed for a reason other than a missing program (e.g. permission denied). */
  exec: 126,
  /** The program does not exist in the sandbox's view. */
  notFound: 127,
} as const;

/** What `sandbox-exec --probe` prints: the layers this host lets the launcher apply. */
export interface ProbeReport {
  readonly landlockAbi: number;
  readonly userNamespace: boolean;
  readonly mountNamespace: boolean;
  readonly seccomp: boolean;
  readonly noNewPrivs: boolean;
}

const PR_SET_NO_NEW_PRIVS = 38n;
const CLOSE_RANGE_CLOEXEC = 1n << 2n;
const ENOENT = 2;

/** Runs the launcher with its argv (after `sandbox-exec`); never returns. */
export async function runSandboxExec(argv: string[], runtimeName: RuntimeName): Promise<never> {
  let mode: LauncherMode;
  try {
    mode = parseLauncherArgs(argv);
  } catch (error) {
    return fail(null, SANDBOX_EXIT.usage, `usage: ${messageOf(error)}`);
  }
  let libc: Libc;
  try {
    libc = await openLibc(runtimeName, process.arch);
  } catch (error) {
    return fail(null, SANDBOX_EXIT.ffi, `cannot load libc: ${messageOf(error)}`);
  }
  const sys = new Sys(libc);
  if (mode.kind === "probe") {
    writeFd(sys, 1, JSON.stringify(probe(sys)) + "\n");
    return process.exit(0);
  }
  return confineAndExec(sys, mode.args);
}

function confineAndExec(sys: Sys, args: LauncherArgs): never {
  const abi = landlockAbi(sys);
  if (abi < 1) return fail(sys, SANDBOX_EXIT.landlock, "landlock: unavailable on this kernel");
  const pid = process.pid;
  const cwd = process.cwd();
  const mountNamespace = !args.without.includes("mount-ns");
  if (!mountNamespace && (args.denied.length > 0 || args.readOnly.length > 0)) {
    return fail(sys, SANDBOX_EXIT.usage, "usage: --deny and --read-only need the mount namespace");
  }
  if (mountNamespace) {
    try {
      const isRoot = sys.call("getuid", []) === 0n;
      enterMountNamespace(sys, {
        readable: [...args.readable, ...args.exec],
        writable: args.writable,
        readOnly: args.readOnly,
        denied: args.denied,
        pid,
      }, { cwd, userNamespace: !isRoot });
    } catch (error) {
      return fail(sys, SANDBOX_EXIT.mountNamespace, `mount namespace: ${messageOf(error)}`);
    }
  }
  try {
    sys.call("prctl", [PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n]);
  } catch (error) {
    return fail(sys, SANDBOX_EXIT.noNewPrivs, `no_new_privs: ${messageOf(error)}`);
  }
  if (!args.without.includes("seccomp")) {
    try {
      installSeccomp(sys, seccompProgram(sys.libc.arch, { network: args.network }));
    } catch (error) {
      return fail(sys, SANDBOX_EXIT.seccomp, `seccomp: ${messageOf(error)}`);
    }
  }
  try {
    applyLandlock(sys, abi, {
      readExec: [...args.readable, ...args.exec, `/proc/${pid}`],
      readWrite: args.writable,
      // In the mount namespace everything under `/` is a root or the skeleton leading to one,
      // so listing it reveals nothing the roots do not.
      listOnly: mountNamespace ? ["/", ...args.list] : args.list,
      devices: SANDBOX_DEVICES.map((name) => `/dev/${name}`),
      network: args.network,
    });
  } catch (error) {
    return fail(sys, SANDBOX_EXIT.landlock, `landlock: ${messageOf(error)}`);
  }
  // Descriptors the runtime or its parent left open must not reach the program.
  sys.try("close_range", [3n, 0xffffffffn, CLOSE_RANGE_CLOEXEC]);
  const env = Object.entries(process.env).flatMap((
    [key, value],
  ) => (value === undefined ? [] : [`${key}=${value}`]));
  const result = sys.try("execve", [
    sys.cString(args.program),
    sys.cStringArray([args.argv0, ...args.args]),
    sys.cStringArray(env),
  ]);
  const errno = Number(-result);
  const error = new SyscallError("execve", errno, args.program);
  return fail(sys, errno === ENOENT ? SANDBOX_EXIT.notFound : SANDBOX_EXIT.exec, error.message);
}

/** Tries each layer in this (throw-away) process and reports which ones work. */
function probe(sys: Sys): ProbeReport {
  const abi = landlockAbi(sys);
  const isRoot = sys.try("getuid", []) === 0n;
  let userNamespace = false;
  let mountNamespace = false;
  const mountWorks = (): boolean => {
    const base = sys.cString("/tmp");
    if (sys.try("mount", [0n, sys.cString("/"), 0n, MOUNT_FLAGS.MS_REC | MOUNT_FLAGS.MS_PRIVATE, 0n]) < 0n) {
      return false;
    }
    const tmpfs = sys.cString("tmpfs");
    if (sys.try("mount", [tmpfs, base, tmpfs, MOUNT_FLAGS.MS_NOSUID | MOUNT_FLAGS.MS_NODEV, 0n]) < 0n) {
      return false;
    }
    const attr = new Uint8Array(32);
    new DataView(attr.buffer).setBigUint64(0, 1n, true);
    return sys.try("mount_setattr", [-100n, sys.cString("/tmp"), 0n, sys.buffer(attr), 32n]) === 0n;
  };
  if (isRoot) {
    mountNamespace = sys.try("unshare", [MOUNT_FLAGS.CLONE_NEWNS]) === 0n && mountWorks();
    userNamespace = sys.try("unshare", [MOUNT_FLAGS.CLONE_NEWUSER]) === 0n;
  } else {
    userNamespace = sys.try("unshare", [MOUNT_FLAGS.CLONE_NEWNS | MOUNT_FLAGS.CLONE_NEWUSER]) === 0n;
    mountNamespace = userNamespace && mountWorksAsUser(sys) && mountWorks();
  }
  const noNewPrivs = sys.try("prctl", [PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n]) === 0n;
  let seccomp = false;
  if (noNewPrivs) {
    try {
      installSeccomp(sys, assemble([{ op: "ret", k: SECCOMP_RET.ALLOW }]));
      seccomp = true;
    } catch {
      // A kernel without seccomp filters refuses the call; the report says so.
      seccomp = false;
    }
  }
  return { landlockAbi: abi, userNamespace, mountNamespace, seccomp, noNewPrivs };
}

function mountWorksAsUser(sys: Sys): boolean {
  const uid = sys.try("getuid", []);
  const gid = sys.try("getgid", []);
  try {
    writeProc(sys, "/proc/thread-self/setgroups", "deny");
    writeProc(sys, "/proc/thread-self/uid_map", `${uid} ${uid} 1`);
    writeProc(sys, "/proc/thread-self/gid_map", `${gid} ${gid} 1`);
    return true;
  } catch {
    // Without an id map the namespace cannot mount anything.
    return false;
  }
}

function writeProc(sys: Sys, path: string, text: string): void {
  const O_WRONLY = 1n;
  const fd = sys.call("openat", [-100n, sys.cString(path), O_WRONLY]);
  const bytes = new TextEncoder().encode(text);
  try {
    sys.call("write", [fd, sys.buffer(bytes), BigInt(bytes.length)]);
  } finally {
    sys.try("close", [fd]);
  }
}

function fail(sys: Sys | null, status: number, message: string): never {
  const line = `exec-server sandbox-exec: sandbox ${message}\n`;
  if (sys === null) process.stderr.write(line);
  else writeFd(sys, 2, line);
  return process.exit(status);
}

/** Writes synchronously through the system call, so nothing is lost to an exit right after. */
function writeFd(sys: Sys, fd: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    const chunk = bytes.subarray(offset);
    const written = sys.try("write", [BigInt(fd), sys.buffer(chunk), BigInt(chunk.length)]);
    if (written <= 0n) return;
    offset += Number(written);
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return error.message + cause;
  }
  return String(error);
}
