/**
 * The seccomp filter of the launcher, built with the BPF assembler, and its installation.
 */
import type { LibcArch } from "../runtime/mod.ts";
import { assemble, type BpfInstruction, type BpfOp, encode } from "./bpf.ts";
import type { Sys } from "./sys.ts";
import { type SyscallName, syscallTable } from "./syscall_numbers.ts";

/** Return values of a seccomp filter. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  ERRNO: 0x00050000,
  ALLOW: 0x7fff0000,
} as const;

const EPERM = 1;
const ENOSYS = 38;
const EPROTONOSUPPORT = 93;
const AF_UNIX = 1;
const AF_NETLINK = 16;
const X32_SYSCALL_BIT = 0x40000000;

/** Offsets in `struct seccomp_data`. */
const SECCOMP_DATA = {
  nr: 0,
  arch: 4,
  arg0Low: 16,
  arg1Low: 24,
  arg2Low: 32,
  arg2High: 36,
  arg3Low: 40,
} as const;

/** The set-user-ID and set-group-ID mode bits. */
const SETID_BITS = 0o6000;
/** `open` flags under which the mode argument is used: O_CREAT and the O_TMPFILE bit. */
const CREATING_OPEN = 0o100 | 0o20000000;

/** Namespace flags a sandboxed `clone` may not carry (CLONE_NEWTIME is a clone3/unshare flag). */
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 |
  0x20000000 |
  0x40000000;

/**
 * A process made with CLONE_PARENT is a child of the caller's parent: for the program the launcher
 * execs, the server itself. The runtimes reap only the children they started, so each such child
 * that exits stays the server's zombie for as long as the server runs, holding a pid of the host
 * and a process of the server's user, past the sandbox's end and its cgroup's pids limit.
 */
const CLONE_PARENT = 0x00008000;

/**
 * A thread (CLONE_THREAD) must share its process's descriptor table (CLONE_FILES): the server
 * finds who holds a client's socket by one thread's `/proc/<pid>/task/<tid>/fd` (`local_peer.ts`),
 * which a thread with a table of its own would hide it from. Every threads library shares it.
 */
const CLONE_THREAD = 0x00010000;
const CLONE_FILES = 0x00000400;

/**
 * TIOCSETD attaches a line discipline to a terminal, and the kernel loads the discipline's module
 * where it is not loaded yet (`dev.tty.ldisc_autoload`, on by default): n_hdlc, hci_uart and
 * others need no capability on the caller's own terminal, and have had exploitable bugs. No
 * program a sandbox runs needs another discipline than the terminal's own; `ioctl` takes its
 * request as an `unsigned int`, so the low word is the whole of it.
 */
const TIOCSETD = 0x5423;

/**
 * BTRFS_IOC_SNAP_CREATE and its V2 make a snapshot of the subvolume behind a descriptor, in the
 * directory the call is made on: a whole copy of that subvolume, whatever the policy's mounts
 * cover in it (denied files, read-only carve-outs, everything outside the roots), in a place the
 * sandbox may read. They need only write access to that directory and the subvolume's owner as
 * the caller (a root sandbox owns root's, an unprivileged server's sandbox its user's), and
 * Landlock governs no ioctl on a directory. Snapshot tools (snapper, container storage drivers)
 * are the only programs that make them.
 */
const BTRFS_IOC_SNAP_CREATE = 0x50009401;
const BTRFS_IOC_SNAP_CREATE_V2 = 0x50009417;

/**
 * NETLINK_AUDIT takes user records from a process with CAP_AUDIT_WRITE, which a sandboxed root keeps
 * (`sudo` and `login` fail without it): with the network on it could write records of any text
 * into the host's audit log (its kernel log without auditd), and a flood of them meets the backlog
 * limit, which a host set to panic on audit failure (`auditctl -f 2`) answers with a panic. The
 * socket answers EPROTONOSUPPORT, as on a kernel without audit, which libaudit's callers take for
 * "no audit here" and go on; reading the log needs CAP_AUDIT_READ, which no sandbox keeps.
 */
const NETLINK_AUDIT = 9;

/**
 * F_SETLEASE takes a lease, which needs only that the caller own the file: a sandboxed root may
 * lease any root file its read-only roots show, an unprivileged server's sandbox any file of its
 * user's that they show. Every other process's open that breaks the lease (for writing under a
 * read lease, any open under a write lease) then waits in the kernel up to
 * `fs.lease-break-time` (45 s), the host's programs and other sessions' alike, at every open, and
 * Landlock governs no lease. Only file servers (Samba, an NFS server) take leases; `fcntl` takes
 * its command as an `unsigned int`, so the low word is the whole of it.
 */
const F_SETLEASE = 1024;

/**
 * A classic BPF filter attached to a socket is compiled into memory that counts against one limit
 * for the whole host (`net.core.bpf_jit_limit`), which no cgroup bounds and only CAP_BPF passes:
 * a sandbox that filled it with filters on its own unix sockets left every other process without
 * that capability, the launchers of later sandboxes included, unable to install a seccomp filter
 * (with `CONFIG_BPF_JIT_ALWAYS_ON`, every filter is compiled). SO_ATTACH_FILTER and
 * SO_ATTACH_REUSEPORT_CBPF fail with EPERM; a program's own seccomp filters stay (a thread's
 * chain holds at most 32,768 instructions, so their sum is bounded by the sandbox's threads).
 */
const SOL_SOCKET = 1;
/**
 * A socket that sets SO_REUSEPORT may bind the port of a listener of the same uid that set it too,
 * and the kernel then hands it a share of that listener's connections (or datagrams): a root
 * sandbox with the network on took 11 of 20 connections meant for a root daemon's listener, and
 * with CAP_SETUID it is every uid. The option fails with EPERM; with the network off no sandbox
 * binds a port anyway (Landlock).
 */
const SO_REUSEPORT = 15;
const SO_ATTACH_FILTER = 26;
const SO_ATTACH_REUSEPORT_CBPF = 51;

/** System calls that always fail with EPERM inside the sandbox. */
const ALWAYS_DENIED: readonly SyscallName[] = [
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "mount",
  "umount2",
  "pivot_root",
  "unshare",
  "setns",
  "keyctl",
  "add_key",
  "request_key",
  "bpf",
  "perf_event_open",
  "open_by_handle_at",
  "init_module",
  "finit_module",
  "delete_module",
  "kexec_load",
  "kexec_file_load",
  "reboot",
  "swapon",
  "swapoff",
  "open_tree",
  "move_mount",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
  "chroot",
  "sethostname",
  "setdomainname",
  "settimeofday",
  "clock_settime",
  "userfaultfd",
  // io_uring can open sockets and do I/O that seccomp never sees.
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  // Host-wide effects a sandboxed root could otherwise have: process accounting of every
  // process, disk quotas, hanging up terminals.
  "acct",
  "quotactl",
  "vhangup",
];

/**
 * SysV IPC and POSIX message queue calls. Their objects belong to an IPC namespace, which neither
 * the mount namespace nor Landlock governs, and they are found by key, name or a guessable id: the
 * launcher gives the sandbox an IPC namespace of its own, and where the kernel refuses one these
 * calls fail with EPERM instead, so a host process's segments, queues and semaphores stay out of
 * reach either way.
 */
const IPC_CALLS = [
  "shmget",
  "shmat",
  "shmctl",
  "shmdt",
  "msgget",
  "msgsnd",
  "msgrcv",
  "msgctl",
  "semget",
  "semop",
  "semctl",
  "semtimedop",
  "mq_open",
  "mq_unlink",
  "mq_timedsend",
  "mq_timedreceive",
  "mq_notify",
  "mq_getsetattr",
] as const satisfies readonly SyscallName[];

/**
 * Calls that act on another process (or every process of a user) by number, where neither
 * Landlock nor the mount namespace sees the target: they are allowed on the caller only.
 * Without this a sandboxed program could `prlimit --pid <server> --nofile=0:0`, renice the
 * server or pin it to one CPU (same uid needs no capability). `prlimit64`, `setpriority` and
 * `ioprio_set` take their target differently and have rules of their own in `seccompProgram`;
 * these take a pid first, and only 0 (the caller) passes.
 */
const SELF_ONLY_BY_PID = [
  "sched_setaffinity",
  "sched_setscheduler",
  "sched_setparam",
  "sched_setattr",
] as const satisfies readonly SyscallName[];

const PRIO_USER = 2;
const IOPRIO_WHO_USER = 3;

/**
 * Calls that set a file's mode, with where the mode argument is (`arg1Low`…). A sandboxed root
 * owns what it creates in its writable roots, and the host honours a set-user-ID root file made
 * there (the sandbox's own `nosuid` view does not protect anyone else): every call that would
 * set S_ISUID or S_ISGID fails with EPERM. The open-like calls set a mode only when they create.
 */
const MODE_SETTERS = [
  ["fchmod", SECCOMP_DATA.arg1Low],
  ["fchmodat", SECCOMP_DATA.arg2Low],
  ["fchmodat2", SECCOMP_DATA.arg2Low],
  ["mknodat", SECCOMP_DATA.arg2Low],
] as const satisfies readonly (readonly [SyscallName, number])[];
const LEGACY_MODE_SETTERS = [
  ["chmod", SECCOMP_DATA.arg1Low],
  ["creat", SECCOMP_DATA.arg1Low],
  ["mknod", SECCOMP_DATA.arg1Low],
] as const;

/**
 * The filter: a foreign architecture is killed; the `ALWAYS_DENIED` calls, namespace-creating
 * `clone`, `clone` with CLONE_PARENT and a thread's `clone` without its process's descriptor table fail with EPERM; `clone3`
 * and `io_setup` fail with ENOSYS (its flags are behind a pointer, and libc falls back to `clone`; a kernel without AIO); prlimit, priority, I/O priority and the `SELF_ONLY_BY_PID` calls fail
 * with EPERM unless they target the caller; with the network off, `socket` and `socketpair` of
 * any family but AF_UNIX fail with EPERM, and with it on a NETLINK_AUDIT socket fails with
 * EPROTONOSUPPORT; without an IPC namespace of the sandbox's own, the
 * `IPC_CALLS` fail with EPERM; `ioctl` TIOCSETD and btrfs snapshots, `fcntl` F_SETLEASE, socket filters (`setsockopt`
 * SO_ATTACH_FILTER, SO_ATTACH_REUSEPORT_CBPF) and SO_REUSEPORT fail with EPERM. Everything else is allowed.
 */
export function seccompProgram(
  arch: LibcArch,
  options: { network: boolean; ipcNamespace: boolean },
): BpfInstruction[] {
  const table = syscallTable(arch);
  const nr = (name: SyscallName): number => table.numbers[name];
  const ops: BpfOp[] = [
    { op: "ld", offset: SECCOMP_DATA.arch },
    { op: "jeq", k: table.auditArch, then: null, else: "kill" },
    { op: "ld", offset: SECCOMP_DATA.nr },
  ];
  if (arch === "x86_64") ops.push({ op: "jge", k: X32_SYSCALL_BIT, then: "eperm", else: null });
  for (const name of ALWAYS_DENIED) ops.push({ op: "jeq", k: nr(name), then: "eperm", else: null });
  if (!options.ipcNamespace) {
    for (const name of IPC_CALLS) ops.push({ op: "jeq", k: nr(name), then: "eperm", else: null });
  }
  ops.push({ op: "jeq", k: nr("clone"), then: "clone", else: null });
  ops.push({ op: "jeq", k: nr("prlimit64"), then: "prlimit", else: null });
  ops.push({ op: "jeq", k: nr("setpriority"), then: "priority", else: null });
  ops.push({ op: "jeq", k: nr("ioprio_set"), then: "ioprio", else: null });
  for (const name of SELF_ONLY_BY_PID) ops.push({ op: "jeq", k: nr(name), then: "self", else: null });
  ops.push({ op: "jeq", k: nr("ioctl"), then: "ioctl", else: null });
  ops.push({ op: "jeq", k: nr("fcntl"), then: "fcntl", else: null });
  ops.push({ op: "jeq", k: nr("setsockopt"), then: "setsockopt", else: null });
  ops.push({ op: "jeq", k: nr("clone3"), then: "enosys", else: null });
  // Asynchronous I/O contexts count against one limit for the whole host (fs.aio-max-nr, 65,536
  // events): a sandbox took all of it in sixteen calls, and every other process's io_setup (a
  // database's native I/O) answered EAGAIN while it held them. ENOSYS is a kernel without AIO,
  // after which such programs use their threads (io_uring is denied already).
  ops.push({ op: "jeq", k: nr("io_setup"), then: "enosys", else: null });
  // openat2 takes its mode behind a pointer; libc falls back to openat on ENOSYS.
  ops.push({ op: "jeq", k: nr("openat2"), then: "enosys", else: null });
  for (const [name, offset] of MODE_SETTERS) {
    ops.push({ op: "jeq", k: nr(name), then: `mode${offset}`, else: null });
  }
  for (const [name, offset] of LEGACY_MODE_SETTERS) {
    const number = table.legacy[name];
    if (number !== undefined) ops.push({ op: "jeq", k: number, then: `mode${offset}`, else: null });
  }
  ops.push({ op: "jeq", k: nr("openat"), then: "openat", else: null });
  const open = table.legacy.open;
  if (open !== undefined) ops.push({ op: "jeq", k: open, then: "open", else: null });
  if (!options.network) {
    ops.push({ op: "jeq", k: nr("socket"), then: "socket", else: null });
    ops.push({ op: "jeq", k: nr("socketpair"), then: "socket", else: null });
  } else {
    ops.push({ op: "jeq", k: nr("socket"), then: "netlinkAudit", else: null });
  }
  ops.push(
    { op: "ret", k: SECCOMP_RET.ALLOW },
    { op: "label", name: "clone" },
    { op: "ld", offset: SECCOMP_DATA.arg0Low },
    { op: "jset", k: CLONE_NAMESPACE_FLAGS | CLONE_PARENT, then: "eperm", else: null },
    { op: "jset", k: CLONE_THREAD, then: null, else: "allow" },
    { op: "jset", k: CLONE_FILES, then: "allow", else: "eperm" },
    // prlimit64(pid, resource, new, old): reading another process's limits is harmless.
    { op: "label", name: "prlimit" },
    { op: "ld", offset: SECCOMP_DATA.arg0Low },
    { op: "jeq", k: 0, then: "allow", else: null },
    { op: "ld", offset: SECCOMP_DATA.arg2Low },
    { op: "jeq", k: 0, then: null, else: "eperm" },
    { op: "ld", offset: SECCOMP_DATA.arg2High },
    { op: "jeq", k: 0, then: "allow", else: "eperm" },
    // setpriority(which, who, prio): the caller (who 0) or its own process group, never a user.
    { op: "label", name: "priority" },
    { op: "ld", offset: SECCOMP_DATA.arg0Low },
    { op: "jeq", k: PRIO_USER, then: "eperm", else: "who" },
    // ioprio_set(which, who, prio): the same rule.
    { op: "label", name: "ioprio" },
    { op: "ld", offset: SECCOMP_DATA.arg0Low },
    { op: "jeq", k: IOPRIO_WHO_USER, then: "eperm", else: "who" },
    { op: "label", name: "who" },
    { op: "ld", offset: SECCOMP_DATA.arg1Low },
    { op: "jeq", k: 0, then: "allow", else: "eperm" },
    // sched_set*(pid, ...): pid 0 is the calling thread.
    { op: "label", name: "self" },
    { op: "ld", offset: SECCOMP_DATA.arg0Low },
    { op: "jeq", k: 0, then: "allow", else: "eperm" },
    // ioctl(fd, request, arg): every request but TIOCSETD and btrfs snapshots.
    { op: "label", name: "ioctl" },
    { op: "ld", offset: SECCOMP_DATA.arg1Low },
    { op: "jeq", k: TIOCSETD, then: "eperm", else: null },
    { op: "jeq", k: BTRFS_IOC_SNAP_CREATE, then: "eperm", else: null },
    { op: "jeq", k: BTRFS_IOC_SNAP_CREATE_V2, then: "eperm", else: "allow" },
    // fcntl(fd, command, arg): every command but F_SETLEASE.
    { op: "label", name: "fcntl" },
    { op: "ld", offset: SECCOMP_DATA.arg1Low },
    { op: "jeq", k: F_SETLEASE, then: "eperm", else: "allow" },
    // setsockopt(fd, level, option, value, length): every option but SO_REUSEPORT and a classic BPF filter's.
    { op: "label", name: "setsockopt" },
    { op: "ld", offset: SECCOMP_DATA.arg1Low },
    { op: "jeq", k: SOL_SOCKET, then: null, else: "allow" },
    { op: "ld", offset: SECCOMP_DATA.arg2Low },
    { op: "jeq", k: SO_REUSEPORT, then: "eperm", else: null },
    { op: "jeq", k: SO_ATTACH_FILTER, then: "eperm", else: null },
    { op: "jeq", k: SO_ATTACH_REUSEPORT_CBPF, then: "eperm", else: "allow" },
    // openat(dirfd, path, flags, mode) and open(path, flags, mode): the mode counts when creating.
    { op: "label", name: "openat" },
    { op: "ld", offset: SECCOMP_DATA.arg2Low },
    { op: "jset", k: CREATING_OPEN, then: `mode${SECCOMP_DATA.arg3Low}`, else: "allow" },
  );
  if (open !== undefined) {
    ops.push(
      { op: "label", name: "open" },
      { op: "ld", offset: SECCOMP_DATA.arg1Low },
      { op: "jset", k: CREATING_OPEN, then: `mode${SECCOMP_DATA.arg2Low}`, else: "allow" },
    );
  }
  for (const offset of [SECCOMP_DATA.arg1Low, SECCOMP_DATA.arg2Low, SECCOMP_DATA.arg3Low]) {
    ops.push(
      { op: "label", name: `mode${offset}` },
      { op: "ld", offset },
      { op: "jset", k: SETID_BITS, then: "eperm", else: "allow" },
    );
  }
  if (!options.network) {
    ops.push(
      { op: "label", name: "socket" },
      { op: "ld", offset: SECCOMP_DATA.arg0Low },
      { op: "jeq", k: AF_UNIX, then: "allow", else: "eperm" },
    );
  } else {
    // socket(domain, type, protocol): every socket but NETLINK_AUDIT.
    ops.push(
      { op: "label", name: "netlinkAudit" },
      { op: "ld", offset: SECCOMP_DATA.arg0Low },
      { op: "jeq", k: AF_NETLINK, then: null, else: "allow" },
      { op: "ld", offset: SECCOMP_DATA.arg2Low },
      { op: "jeq", k: NETLINK_AUDIT, then: null, else: "allow" },
      { op: "ret", k: SECCOMP_RET.ERRNO | EPROTONOSUPPORT },
    );
  }
  ops.push(
    { op: "label", name: "eperm" },
    { op: "ret", k: SECCOMP_RET.ERRNO | EPERM },
    { op: "label", name: "enosys" },
    { op: "ret", k: SECCOMP_RET.ERRNO | ENOSYS },
    { op: "label", name: "kill" },
    { op: "ret", k: SECCOMP_RET.KILL_PROCESS },
    { op: "label", name: "allow" },
    { op: "ret", k: SECCOMP_RET.ALLOW },
  );
  return assemble(ops);
}

const SECCOMP_SET_MODE_FILTER = 1n;

/** Installs `program` on the calling thread; `no_new_privs` must already be set. */
export function installSeccomp(sys: Sys, program: readonly BpfInstruction[]): void {
  const filter = encode(program);
  const fprog = new Uint8Array(16);
  const view = new DataView(fprog.buffer);
  view.setUint16(0, program.length, true);
  view.setBigUint64(8, sys.buffer(filter), true);
  sys.call("seccomp", [SECCOMP_SET_MODE_FILTER, 0n, sys.buffer(fprog)]);
}

/** Builds a `struct seccomp_data` for tests of a filter. */
export function seccompData(options: { nr: number; arch: number; args?: readonly number[] }): Uint8Array {
  const data = new Uint8Array(64);
  const view = new DataView(data.buffer);
  view.setInt32(SECCOMP_DATA.nr, options.nr, true);
  view.setUint32(SECCOMP_DATA.arch, options.arch, true);
  (options.args ?? []).forEach((arg, i) => view.setBigUint64(16 + i * 8, BigInt(arg), true));
  return data;
}
