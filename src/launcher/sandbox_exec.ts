/**
 * `exec-server sandbox-exec`: the restrict-then-exec launcher. It confines the calling thread
 * layer by layer and then `execve`s the program, so the whole new image (every thread it will
 * ever start) lives inside the confinement. A layer the policy needs that fails to apply ends
 * the launcher with a message on stderr and one of `SANDBOX_EXIT`; it never runs the program
 * with less confinement.
 */
import { type LauncherProcess, launcherProcess, type Libc, openLibc } from "../runtime/mod.ts";
import type { RuntimeName } from "../runtime/mod.ts";
import { assemble } from "./bpf.ts";
import { applyLandlock, landlockAbi } from "./landlock.ts";
import {
  decodeStdinArgs,
  type LauncherArgs,
  type LauncherMode,
  parseLauncherArgs,
  STDIN_LENGTH_DIGITS,
} from "./launcher_args.ts";
import { enterMountNamespace, MOUNT_FLAGS, SANDBOX_DEVICES } from "./mount_namespace.ts";
import { installSeccomp, SECCOMP_RET, seccompProgram } from "./seccomp_filter.ts";
import { Sys, SyscallError } from "./sys.ts";
import { resetIgnoredSignals } from "./signal_defaults.ts";
import { decodeTargetEnv } from "./target_env.ts";
import { statStartTime } from "./sandbox_label.ts";

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
  readonly ipcNamespace: boolean;
  readonly seccomp: boolean;
  readonly noNewPrivs: boolean;
}

const PR_SET_NO_NEW_PRIVS = 38n;
const CLONE_NEWIPC = 0x08000000n;
const CLOSE_RANGE_CLOEXEC = 1n << 2n;
const ENOENT = 2;
const EINTR = 4n;

/** Runs the launcher with its argv (after `sandbox-exec`); never returns. */
export async function runSandboxExec(
  argv: readonly string[],
  runtimeName: RuntimeName,
  given?: LauncherProcess,
): Promise<never> {
  const process = given ?? await launcherProcess(runtimeName);
  let mode: LauncherMode;
  try {
    mode = parseLauncherArgs([...argv]);
  } catch (error) {
    return fail(process, null, SANDBOX_EXIT.usage, `usage: ${messageOf(error)}`);
  }
  let libc: Libc;
  try {
    libc = await openLibc(runtimeName, process.arch);
  } catch (error) {
    return fail(process, null, SANDBOX_EXIT.ffi, `cannot load libc: ${messageOf(error)}`);
  }
  const sys = new Sys(libc);
  if (mode.kind === "probe") {
    writeFd(sys, 1, JSON.stringify(probe(sys)) + "\n");
    return process.exit(0);
  }
  if (mode.kind === "stdin") {
    let argv: string[] | null;
    try {
      argv = readStdinArgs(sys);
      // The server went away before it needed this spare: nothing to report to anyone.
      if (argv === null) return process.exit(SANDBOX_EXIT.usage);
      mode = parseLauncherArgs(argv);
    } catch (error) {
      return fail(process, sys, SANDBOX_EXIT.usage, `usage: argv on stdin: ${messageOf(error)}`);
    }
    if (mode.kind !== "exec") {
      return fail(process, sys, SANDBOX_EXIT.usage, "usage: the argv on stdin must run a program");
    }
  }
  return confineAndExec(process, sys, mode.args);
}

/**
 * A spare launcher's argv (`encodeStdinArgs`), read from stdin with exactly as many bytes as it
 * takes; null at the end of stdin before any byte.
 */
function readStdinArgs(sys: Sys): string[] | null {
  const header = readExactly(sys, STDIN_LENGTH_DIGITS + 1);
  if (header === null) return null;
  const text = new TextDecoder().decode(header);
  if (!/^[0-9]+\n$/.test(text)) throw new RangeError("the length line on stdin is malformed");
  const json = readExactly(sys, Number(text.slice(0, -1)));
  if (json === null) throw new RangeError("stdin ended inside the argv");
  return decodeStdinArgs(new TextDecoder("utf-8", { fatal: true }).decode(json));
}

/** Reads `count` bytes from fd 0, never more; null when it ends first (throws if it ends midway). */
function readExactly(sys: Sys, count: number): Uint8Array | null {
  const bytes = new Uint8Array(count);
  let got = 0;
  while (got < count) {
    const rest = bytes.subarray(got);
    const read = sys.try("read", [0n, sys.buffer(rest), BigInt(rest.length)]);
    if (read === -EINTR) continue;
    if (read < 0n) throw new SyscallError("read", Number(-read), "stdin");
    if (read === 0n) {
      if (got === 0) return null;
      throw new RangeError("stdin ended inside the argv");
    }
    got += Number(read);
  }
  return bytes;
}

function confineAndExec(process: LauncherProcess, sys: Sys, args: LauncherArgs): never {
  const abi = landlockAbi(sys);
  if (abi < 1) return fail(process, sys, SANDBOX_EXIT.landlock, "landlock: unavailable on this kernel");
  const pid = process.pid;
  const cwd = args.cwd;
  const mountNamespace = !args.without.includes("mount-ns");
  if (!mountNamespace && (args.denied.length > 0 || args.readOnly.length > 0)) {
    return fail(process, sys, SANDBOX_EXIT.usage, "usage: --deny and --read-only need the mount namespace");
  }
  if (!mountNamespace) {
    try {
      sys.call("chdir", [sys.cString(cwd)], cwd);
    } catch (error) {
      return fail(process, sys, SANDBOX_EXIT.mountNamespace, `cwd: ${messageOf(error)}`);
    }
  }
  // SysV IPC objects and POSIX message queues belong to an IPC namespace, which neither the
  // mount namespace nor Landlock governs: one of the sandbox's own keeps the host's out of reach
  // and lets the sandbox's processes share theirs. Where the kernel refuses one, the seccomp
  // filter denies those calls instead.
  const ipcNamespace = sys.try("unshare", [CLONE_NEWIPC]) === 0n;
  if (mountNamespace) {
    try {
      enterMountNamespace(sys, {
        readable: [...args.readable, ...args.exec],
        writable: args.writable,
        readOnly: args.readOnly,
        denied: args.denied,
        noLinksIn: args.noLinksIn,
        pid,
        startTime: statStartTime(process.readStat() ?? ""),
      }, { cwd, files: process });
    } catch (error) {
      return fail(process, sys, SANDBOX_EXIT.mountNamespace, `mount namespace: ${messageOf(error)}`);
    }
  }
  try {
    dropCapabilities(sys);
  } catch (error) {
    return fail(process, sys, SANDBOX_EXIT.noNewPrivs, `capabilities: ${messageOf(error)}`);
  }
  try {
    sys.call("prctl", [PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n]);
  } catch (error) {
    return fail(process, sys, SANDBOX_EXIT.noNewPrivs, `no_new_privs: ${messageOf(error)}`);
  }
  if (!args.without.includes("seccomp")) {
    try {
      installSeccomp(sys, seccompProgram(sys.libc.arch, { network: args.network, ipcNamespace }));
    } catch (error) {
      return fail(process, sys, SANDBOX_EXIT.seccomp, `seccomp: ${messageOf(error)}`);
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
    return fail(process, sys, SANDBOX_EXIT.landlock, `landlock: ${messageOf(error)}`);
  }
  // Descriptors the runtime or its parent left open must not reach the program.
  sys.try("close_range", [3n, 0xffffffffn, CLOSE_RANGE_CLOEXEC]);
  resetIgnoredSignals(sys);
  const env = Object.entries(decodeTargetEnv(process.env)).map(([key, value]) => `${key}=${value}`);
  const result = sys.try("execve", [
    sys.cString(args.program),
    sys.cStringArray([args.argv0, ...args.args]),
    sys.cStringArray(env),
  ]);
  const errno = Number(-result);
  const error = new SyscallError("execve", errno, args.program);
  return fail(process, sys, errno === ENOENT ? SANDBOX_EXIT.notFound : SANDBOX_EXIT.exec, error.message);
}

/**
 * Capabilities a sandboxed root keeps: the file-ownership and permission overrides a root
 * program expects inside its writable roots, changing its own ids, signals (Landlock scopes
 * them to the sandbox) and audit messages. Every other one (CAP_SYS_ADMIN, CAP_SYS_RAWIO,
 * CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_SYS_MODULE, CAP_SYS_TIME, CAP_SYSLOG,
 * CAP_DAC_READ_SEARCH, CAP_MKNOD, CAP_SETFCAP, CAP_SYS_NICE, CAP_SYS_RESOURCE, …) acts on the
 * host beyond the sandbox's view and is dropped from the bounding set, so even a root `execve`
 * cannot get it back.
 */
const KEPT_CAPABILITIES: readonly number[] = [
  0, // CAP_CHOWN
  1, // CAP_DAC_OVERRIDE
  3, // CAP_FOWNER
  // Not CAP_FSETID: without it a write or chown clears S_ISUID and S_ISGID, so a set-user-ID
  // root file that lies in a writable root cannot be rewritten into something else.
  5, // CAP_KILL
  6, // CAP_SETGID
  7, // CAP_SETUID
  // Not CAP_NET_BIND_SERVICE: the host's privileged ports are its root daemons'. A UDP socket
  // that sets SO_REUSEADDR binds the address and port of any other that did, whatever its uid,
  // and takes its unicast datagrams (systemd-resolved's stub on 127.0.0.53:53 sets it), and a
  // free privileged port is one that the host's clients trust as a root daemon's.
  29, // CAP_AUDIT_WRITE
];

const PR_CAPBSET_READ = 23n;
const PR_CAPBSET_DROP = 24n;
const PR_CAP_AMBIENT = 47n;
const PR_CAP_AMBIENT_CLEAR_ALL = 4n;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const EINVAL = 22n;

/**
 * Drops every capability but `KEPT_CAPABILITIES` from the bounding, ambient, inheritable,
 * permitted and effective sets of the calling thread (before `no_new_privs` and seccomp, which
 * leave `capset` and `prctl` allowed anyway).
 */
function dropCapabilities(sys: Sys): void {
  const kept = new Set(KEPT_CAPABILITIES);
  for (let cap = 0n; cap < 64n; cap++) {
    const present = sys.try("prctl", [PR_CAPBSET_READ, cap, 0n, 0n, 0n]);
    if (present === -EINVAL) break; // Past the kernel's last capability.
    if (present === 1n && !kept.has(Number(cap))) {
      sys.call("prctl", [PR_CAPBSET_DROP, cap, 0n, 0n, 0n], `drop ${cap}`);
    }
  }
  sys.call("prctl", [PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0n, 0n, 0n], "ambient");
  const header = new Uint8Array(8);
  new DataView(header.buffer).setUint32(0, LINUX_CAPABILITY_VERSION_3, true);
  const data = new Uint8Array(24);
  sys.call("capget", [sys.buffer(header), sys.buffer(data)]);
  const view = new DataView(data.buffer);
  const mask = [0, 0];
  for (const cap of kept) mask[cap >> 5] = (mask[cap >> 5] ?? 0) | (1 << (cap & 31));
  for (let word = 0; word < 2; word++) {
    const permitted = view.getUint32(word * 12 + 4, true) & (mask[word] ?? 0);
    view.setUint32(word * 12, permitted, true); // effective
    view.setUint32(word * 12 + 4, permitted, true); // permitted
    view.setUint32(word * 12 + 8, 0, true); // inheritable
  }
  new DataView(header.buffer).setUint32(4, 0, true);
  sys.call("capset", [sys.buffer(header), sys.buffer(data)]);
}

/**
 * Tries each layer in this (throw-away) process and reports which ones work. Run as root, or
 * unprivileged inside a user namespace a helper made (`userNamespace` then says the helper
 * worked: this process holds capabilities over its own namespace).
 */
function probe(sys: Sys): ProbeReport {
  const abi = landlockAbi(sys);
  const isRoot = sys.try("getuid", []) === 0n;
  const userNamespace = !isRoot && readProc(sys, "/proc/self/uid_map").trim() !== "0 0 4294967295";
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
  const mountNamespace = (isRoot || userNamespace) && sys.try("unshare", [MOUNT_FLAGS.CLONE_NEWNS]) === 0n &&
    mountWorks();
  const ipcNamespace = (isRoot || userNamespace) && sys.try("unshare", [CLONE_NEWIPC]) === 0n;
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
  return { landlockAbi: abi, userNamespace, mountNamespace, ipcNamespace, seccomp, noNewPrivs };
}

/** A small /proc file's text, read through the system calls (empty when unreadable). */
function readProc(sys: Sys, path: string): string {
  const O_RDONLY = 0n;
  const fd = sys.try("openat", [-100n, sys.cString(path), O_RDONLY]);
  if (fd < 0n) return "";
  try {
    const buffer = new Uint8Array(4096);
    const read = sys.try("read", [fd, sys.buffer(buffer), BigInt(buffer.length)]);
    return read > 0n ? new TextDecoder().decode(buffer.subarray(0, Number(read))) : "";
  } finally {
    sys.try("close", [fd]);
  }
}

function fail(process: LauncherProcess, sys: Sys | null, status: number, message: string): never {
  const line = `exec-server sandbox-exec: sandbox ${message}\n`;
  if (sys === null) process.writeStderr(line);
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
