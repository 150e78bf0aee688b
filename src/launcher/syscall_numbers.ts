/**
 * System call numbers and the seccomp audit architecture of each supported CPU.
 */
import type { LibcArch } from "../runtime/mod.ts";

/**
 * The system calls the launcher makes, the seccomp filter names, or the server's socket lookup and
 * idle-connection sweep make.
 */
export type SyscallName =
  | "read"
  | "write"
  | "close"
  | "ioctl"
  | "fcntl"
  | "openat"
  | "mkdirat"
  | "symlinkat"
  | "fchdir"
  | "chdir"
  | "getcwd"
  | "getpid"
  | "getuid"
  | "getgid"
  | "execve"
  | "prctl"
  | "seccomp"
  | "mount"
  | "umount2"
  | "pivot_root"
  | "mount_setattr"
  | "unshare"
  | "setns"
  | "clone"
  | "clone3"
  | "socket"
  | "socketpair"
  | "setsockopt"
  | "sendto"
  | "recvfrom"
  | "getsockname"
  | "getpeername"
  | "shutdown"
  | "getdents64"
  | "lseek"
  | "ptrace"
  | "process_vm_readv"
  | "process_vm_writev"
  | "keyctl"
  | "add_key"
  | "request_key"
  | "bpf"
  | "perf_event_open"
  | "io_setup"
  | "io_uring_setup"
  | "io_uring_enter"
  | "io_uring_register"
  | "open_by_handle_at"
  | "init_module"
  | "finit_module"
  | "delete_module"
  | "kexec_load"
  | "kexec_file_load"
  | "reboot"
  | "swapon"
  | "swapoff"
  | "open_tree"
  | "move_mount"
  | "fsopen"
  | "fsconfig"
  | "fsmount"
  | "fspick"
  | "chroot"
  | "sethostname"
  | "setdomainname"
  | "settimeofday"
  | "clock_settime"
  | "userfaultfd"
  | "setxattr"
  | "close_range"
  | "rt_sigaction"
  | "landlock_create_ruleset"
  | "landlock_add_rule"
  | "landlock_restrict_self"
  | "prlimit64"
  | "setpriority"
  | "sched_setaffinity"
  | "sched_setscheduler"
  | "sched_setparam"
  | "sched_setattr"
  | "ioprio_set"
  | "acct"
  | "quotactl"
  | "vhangup"
  | "capget"
  | "capset"
  | "fchmod"
  | "fchmodat"
  | "fchmodat2"
  | "mknodat"
  | "openat2"
  | "statx"
  | "readlinkat"
  | "shmget"
  | "shmat"
  | "shmctl"
  | "shmdt"
  | "msgget"
  | "msgsnd"
  | "msgrcv"
  | "msgctl"
  | "semget"
  | "semop"
  | "semctl"
  | "semtimedop"
  | "mq_open"
  | "mq_unlink"
  | "mq_timedsend"
  | "mq_timedreceive"
  | "mq_notify"
  | "mq_getsetattr";

/** Older calls that x86_64 has and aarch64 does not (it has only their `*at` forms). */
export type LegacySyscallName = "chmod" | "open" | "creat" | "mknod";

/** Numbers of one architecture's system calls plus its `AUDIT_ARCH_*` value. */
export interface SyscallTable {
  readonly auditArch: number;
  readonly numbers: Readonly<Record<SyscallName, number>>;
  /** The legacy calls, where the architecture has them. */
  readonly legacy: Readonly<Partial<Record<LegacySyscallName, number>>>;
}

const X86_64: SyscallTable = {
  auditArch: 0xc000003e,
  numbers: {
    read: 0,
    write: 1,
    close: 3,
    ioctl: 16,
    fcntl: 72,
    openat: 257,
    mkdirat: 258,
    symlinkat: 266,
    fchdir: 81,
    chdir: 80,
    getcwd: 79,
    getpid: 39,
    getuid: 102,
    getgid: 104,
    execve: 59,
    prctl: 157,
    seccomp: 317,
    mount: 165,
    umount2: 166,
    pivot_root: 155,
    mount_setattr: 442,
    unshare: 272,
    setns: 308,
    clone: 56,
    clone3: 435,
    socket: 41,
    socketpair: 53,
    setsockopt: 54,
    sendto: 44,
    recvfrom: 45,
    getsockname: 51,
    getpeername: 52,
    shutdown: 48,
    getdents64: 217,
    lseek: 8,
    ptrace: 101,
    process_vm_readv: 310,
    process_vm_writev: 311,
    keyctl: 250,
    add_key: 248,
    request_key: 249,
    bpf: 321,
    perf_event_open: 298,
    io_setup: 206,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    open_by_handle_at: 304,
    init_module: 175,
    finit_module: 313,
    delete_module: 176,
    kexec_load: 246,
    kexec_file_load: 320,
    reboot: 169,
    swapon: 167,
    swapoff: 168,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    chroot: 161,
    sethostname: 170,
    setdomainname: 171,
    settimeofday: 164,
    clock_settime: 227,
    userfaultfd: 323,
    setxattr: 188,
    close_range: 436,
    rt_sigaction: 13,
    landlock_create_ruleset: 444,
    landlock_add_rule: 445,
    landlock_restrict_self: 446,
    prlimit64: 302,
    setpriority: 141,
    sched_setaffinity: 203,
    sched_setscheduler: 144,
    sched_setparam: 142,
    sched_setattr: 314,
    ioprio_set: 251,
    acct: 163,
    quotactl: 179,
    vhangup: 153,
    capget: 125,
    capset: 126,
    fchmod: 91,
    fchmodat: 268,
    fchmodat2: 452,
    mknodat: 259,
    openat2: 437,
    statx: 332,
    readlinkat: 267,
    shmget: 29,
    shmat: 30,
    shmctl: 31,
    shmdt: 67,
    msgget: 68,
    msgsnd: 69,
    msgrcv: 70,
    msgctl: 71,
    semget: 64,
    semop: 65,
    semctl: 66,
    semtimedop: 220,
    mq_open: 240,
    mq_unlink: 241,
    mq_timedsend: 242,
    mq_timedreceive: 243,
    mq_notify: 244,
    mq_getsetattr: 245,
  },
  legacy: { chmod: 90, open: 2, creat: 85, mknod: 133 },
};

const AARCH64: SyscallTable = {
  auditArch: 0xc00000b7,
  numbers: {
    read: 63,
    write: 64,
    close: 57,
    ioctl: 29,
    fcntl: 25,
    openat: 56,
    mkdirat: 34,
    symlinkat: 36,
    fchdir: 50,
    chdir: 49,
    getcwd: 17,
    getpid: 172,
    getuid: 174,
    getgid: 176,
    execve: 221,
    prctl: 167,
    seccomp: 277,
    mount: 40,
    umount2: 39,
    pivot_root: 41,
    mount_setattr: 442,
    unshare: 97,
    setns: 268,
    clone: 220,
    clone3: 435,
    socket: 198,
    socketpair: 199,
    setsockopt: 208,
    sendto: 206,
    recvfrom: 207,
    getsockname: 204,
    getpeername: 205,
    shutdown: 210,
    getdents64: 61,
    lseek: 62,
    ptrace: 117,
    process_vm_readv: 270,
    process_vm_writev: 271,
    keyctl: 219,
    add_key: 217,
    request_key: 218,
    bpf: 280,
    perf_event_open: 241,
    io_setup: 0,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    open_by_handle_at: 265,
    init_module: 105,
    finit_module: 273,
    delete_module: 106,
    kexec_load: 104,
    kexec_file_load: 294,
    reboot: 142,
    swapon: 224,
    swapoff: 225,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    chroot: 51,
    sethostname: 161,
    setdomainname: 162,
    settimeofday: 170,
    clock_settime: 112,
    userfaultfd: 282,
    setxattr: 5,
    close_range: 436,
    rt_sigaction: 134,
    landlock_create_ruleset: 444,
    landlock_add_rule: 445,
    landlock_restrict_self: 446,
    prlimit64: 261,
    setpriority: 140,
    sched_setaffinity: 122,
    sched_setscheduler: 119,
    sched_setparam: 118,
    sched_setattr: 274,
    ioprio_set: 30,
    acct: 89,
    quotactl: 60,
    vhangup: 58,
    capget: 90,
    capset: 91,
    fchmod: 52,
    fchmodat: 53,
    fchmodat2: 452,
    mknodat: 33,
    openat2: 437,
    statx: 291,
    readlinkat: 78,
    shmget: 194,
    shmat: 196,
    shmctl: 195,
    shmdt: 197,
    msgget: 186,
    msgsnd: 189,
    msgrcv: 188,
    msgctl: 187,
    semget: 190,
    semop: 193,
    semctl: 191,
    semtimedop: 192,
    mq_open: 180,
    mq_unlink: 181,
    mq_timedsend: 182,
    mq_timedreceive: 183,
    mq_notify: 184,
    mq_getsetattr: 185,
  },
  legacy: {},
};

/** The system call table of an architecture. */
export function syscallTable(arch: LibcArch): SyscallTable {
  switch (arch) {
    case "x86_64":
      return X86_64;
    case "aarch64":
      return AARCH64;
    default: {
      const never: never = arch;
      throw new TypeError(`unknown architecture ${String(never)}`);
    }
  }
}
