/**
 * Landlock through raw system calls: the ruleset for a policy, applied to the calling thread
 * (the launcher then `execve`s, so the whole new image lives in the domain).
 */
import { type Sys, SyscallError } from "./sys.ts";
import { openFlags } from "./open_flags.ts";

const FS = {
  EXECUTE: 1n << 0n,
  WRITE_FILE: 1n << 1n,
  READ_FILE: 1n << 2n,
  READ_DIR: 1n << 3n,
  REMOVE_DIR: 1n << 4n,
  REMOVE_FILE: 1n << 5n,
  MAKE_CHAR: 1n << 6n,
  MAKE_DIR: 1n << 7n,
  MAKE_REG: 1n << 8n,
  MAKE_SOCK: 1n << 9n,
  MAKE_FIFO: 1n << 10n,
  MAKE_BLOCK: 1n << 11n,
  MAKE_SYM: 1n << 12n,
  REFER: 1n << 13n,
  TRUNCATE: 1n << 14n,
  IOCTL_DEV: 1n << 15n,
} as const;

const NET_BIND_TCP = 1n << 0n;
const NET_CONNECT_TCP = 1n << 1n;
const SCOPE_ABSTRACT_UNIX_SOCKET = 1n << 0n;
const SCOPE_SIGNAL = 1n << 1n;
const RULE_PATH_BENEATH = 1n;
const CREATE_RULESET_VERSION = 1n;
const ENOENT = 2;
const ENOTDIR = 20;

/** Rights a rule on a regular file (not a directory) may carry. */
const FILE_ONLY = FS.EXECUTE | FS.WRITE_FILE | FS.READ_FILE | FS.TRUNCATE | FS.IOCTL_DEV;

/** What the Landlock domain allows; every other handled access is denied. */
export interface LandlockRules {
  /** Read and execute beneath these paths. */
  readonly readExec: readonly string[];
  /** Everything except creating device nodes beneath these paths. */
  readonly readWrite: readonly string[];
  /** Listing only (READ_DIR) beneath these paths. */
  readonly listOnly: readonly string[];
  /** Device files opened for reading and writing (and ioctl). */
  readonly devices: readonly string[];
  /** False: TCP bind and connect are denied (ABI ≥ 4). */
  readonly network: boolean;
}

/** The Landlock ABI of this kernel, 0 when Landlock is absent or disabled. */
export function landlockAbi(sys: Sys): number {
  const abi = sys.try("landlock_create_ruleset", [0n, 0n, CREATE_RULESET_VERSION]);
  return abi > 0n ? Number(abi) : 0;
}

/** Every filesystem right the given ABI knows. */
function handledFsRights(abi: number): bigint {
  let rights = (1n << 13n) - 1n;
  if (abi >= 2) rights |= FS.REFER;
  if (abi >= 3) rights |= FS.TRUNCATE;
  if (abi >= 5) rights |= FS.IOCTL_DEV;
  return rights;
}

/**
 * Builds the ruleset and restricts the calling thread. `no_new_privs` must already be set.
 * A path that does not exist gets no rule (there is nothing to allow); any other failure throws.
 */
export function applyLandlock(sys: Sys, abi: number, rules: LandlockRules): void {
  if (abi < 1) throw new Error("landlock unavailable");
  const handledFs = handledFsRights(abi);
  const handledNet = !rules.network && abi >= 4 ? NET_BIND_TCP | NET_CONNECT_TCP : 0n;
  const scoped = abi >= 6 ? SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL : 0n;
  const attrSize = abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
  const attr = new Uint8Array(24);
  const attrView = new DataView(attr.buffer);
  attrView.setBigUint64(0, handledFs, true);
  attrView.setBigUint64(8, handledNet, true);
  attrView.setBigUint64(16, scoped, true);
  const rulesetFd = sys.call("landlock_create_ruleset", [sys.buffer(attr), BigInt(attrSize), 0n]);

  const readExec = FS.EXECUTE | FS.READ_FILE | FS.READ_DIR;
  const readWrite = handledFs & ~(FS.MAKE_CHAR | FS.MAKE_BLOCK);
  const device = (FS.READ_FILE | FS.WRITE_FILE | FS.IOCTL_DEV) & handledFs;
  try {
    for (const path of rules.readExec) addPathRule(sys, rulesetFd, path, readExec);
    for (const path of rules.readWrite) addPathRule(sys, rulesetFd, path, readWrite);
    for (const path of rules.listOnly) addPathRule(sys, rulesetFd, path, FS.READ_DIR);
    for (const path of rules.devices) addPathRule(sys, rulesetFd, path, device);
    sys.call("landlock_restrict_self", [rulesetFd, 0n]);
  } finally {
    sys.try("close", [rulesetFd]);
  }
}

function addPathRule(sys: Sys, rulesetFd: bigint, path: string, rights: bigint): void {
  const flags = openFlags(sys.libc.arch);
  let fd = sys.try("openat", [
    AT_FDCWD,
    sys.cString(path),
    flags.O_PATH | flags.O_CLOEXEC | flags.O_DIRECTORY,
  ]);
  let allowed = rights;
  if (fd === -BigInt(ENOTDIR)) {
    fd = sys.try("openat", [AT_FDCWD, sys.cString(path), flags.O_PATH | flags.O_CLOEXEC]);
    allowed = rights & FILE_ONLY;
  }
  if (fd === -BigInt(ENOENT)) return;
  if (fd < 0n) throw new SyscallError("openat", Number(-fd), path);
  try {
    const attr = new Uint8Array(16);
    const view = new DataView(attr.buffer);
    view.setBigUint64(0, allowed, true);
    view.setInt32(8, Number(fd), true);
    sys.call("landlock_add_rule", [rulesetFd, RULE_PATH_BENEATH, sys.buffer(attr), 0n], path);
  } finally {
    sys.try("close", [fd]);
  }
}

/** `AT_FDCWD` as the kernel reads it (-100, sign-extended). */
export const AT_FDCWD = -100n;
