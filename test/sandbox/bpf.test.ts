import { describe, expect, test } from "bun:test";
import { assemble, BPF, encode, runFilter } from "../../src/launcher/bpf.ts";
import { SECCOMP_RET, seccompData, seccompProgram } from "../../src/launcher/seccomp_filter.ts";
import { syscallTable } from "../../src/launcher/syscall_numbers.ts";

describe("bpf assembler", () => {
  test("assemble resolves forward labels into relative offsets", () => {
    const program = assemble([
      { op: "ld", offset: 4 },
      { op: "jeq", k: 0xc000003e, then: null, else: "kill" },
      { op: "ret", k: SECCOMP_RET.ALLOW },
      { op: "label", name: "kill" },
      { op: "ret", k: SECCOMP_RET.KILL_PROCESS },
    ]);
    expect(program).toEqual([
      { code: BPF.LD_W_ABS, jt: 0, jf: 0, k: 4 },
      { code: BPF.JEQ_K, jt: 0, jf: 1, k: 0xc000003e },
      { code: BPF.RET_K, jt: 0, jf: 0, k: 0x7fff0000 },
      { code: BPF.RET_K, jt: 0, jf: 0, k: 0x80000000 },
    ]);
  });

  test("encode writes struct sock_filter little-endian", () => {
    const bytes = encode([{ code: 0x15, jt: 2, jf: 7, k: 0xc000003e }, {
      code: 0x06,
      jt: 0,
      jf: 0,
      k: 0x7fff0000,
    }]);
    expect([...bytes]).toEqual([
      0x15,
      0x00,
      0x02,
      0x07,
      0x3e,
      0x00,
      0x00,
      0xc0,
      0x06,
      0x00,
      0x00,
      0x00,
      0x00,
      0x00,
      0xff,
      0x7f,
    ]);
  });

  test("assemble refuses unknown and backward labels and long jumps", () => {
    expect(() => assemble([{ op: "jeq", k: 1, then: "nowhere", else: null }])).toThrow(
      "unknown label nowhere",
    );
    expect(() =>
      assemble([
        { op: "label", name: "top" },
        { op: "ret", k: 0 },
        { op: "jeq", k: 1, then: "top", else: null },
      ])
    ).toThrow("backward jump to top");
    const long = [
      { op: "jeq", k: 1, then: "far", else: null } as const,
      ...Array.from({ length: 300 }, () => ({ op: "ret", k: 0 } as const)),
      { op: "label", name: "far" } as const,
      { op: "ret", k: 1 } as const,
    ];
    expect(() => assemble(long)).toThrow("jump to far is 300 instructions long");
  });

  test("runFilter follows jset and jge", () => {
    const program = assemble([
      { op: "ld", offset: 0 },
      { op: "jge", k: 10, then: "big", else: null },
      { op: "jset", k: 0b100, then: "bit", else: null },
      { op: "ret", k: 1 },
      { op: "label", name: "big" },
      { op: "ret", k: 2 },
      { op: "label", name: "bit" },
      { op: "ret", k: 3 },
    ]);
    const data = (nr: number): Uint8Array => seccompData({ nr, arch: 0 });
    expect([runFilter(program, data(1)), runFilter(program, data(12)), runFilter(program, data(5))]).toEqual([
      1,
      2,
      3,
    ]);
  });
});

describe.each(["x86_64", "aarch64"] as const)("seccomp filter for %s", (arch) => {
  const table = syscallTable(arch);
  const nr = table.numbers;
  const EPERM = SECCOMP_RET.ERRNO | 1;
  const ENOSYS = SECCOMP_RET.ERRNO | 38;
  const verdict = (
    network: boolean,
    call: number,
    args: number[] = [],
    auditArch = table.auditArch,
    ipcNamespace = true,
  ): number =>
    runFilter(
      seccompProgram(arch, { network, ipcNamespace }),
      seccompData({ nr: call, arch: auditArch, args }),
    );

  test("seccompProgram kills a foreign architecture", () => {
    expect(verdict(true, nr.write, [], 0x40000003)).toBe(SECCOMP_RET.KILL_PROCESS);
  });

  test("seccompProgram allows ordinary calls", () => {
    expect(verdict(false, nr.write)).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(false, nr.openat)).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(false, nr.execve)).toBe(SECCOMP_RET.ALLOW);
  });

  test("seccompProgram allows only AF_UNIX sockets with the network off", () => {
    for (const family of [2, 10, 16, 17]) {
      expect(verdict(false, nr.socket, [family, 1, 0])).toBe(EPERM);
      expect(verdict(false, nr.socketpair, [family, 1, 0])).toBe(EPERM);
      expect(verdict(true, nr.socket, [family, 1, 0])).toBe(SECCOMP_RET.ALLOW);
    }
    expect(verdict(false, nr.socket, [1, 1, 0])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(false, nr.socketpair, [1, 1, 0])).toBe(SECCOMP_RET.ALLOW);
  });

  test("seccompProgram always denies the escape calls", () => {
    for (
      const name of [
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "mount",
        "umount2",
        "pivot_root",
        "unshare",
        "setns",
        "keyctl",
        "bpf",
        "perf_event_open",
        "io_uring_setup",
        "open_by_handle_at",
      ] as const
    ) {
      expect(verdict(true, nr[name])).toBe(EPERM);
      expect(verdict(false, nr[name])).toBe(EPERM);
    }
  });

  test("seccompProgram denies clone with namespace flags and clone3", () => {
    const SIGCHLD = 17;
    expect(verdict(true, nr.clone, [0x01200000 | SIGCHLD])).toBe(SECCOMP_RET.ALLOW);
    // CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
    for (const flag of [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000]) {
      expect([flag, verdict(true, nr.clone, [flag | SIGCHLD])]).toEqual([flag, EPERM]);
    }
    expect(verdict(true, nr.clone3)).toBe(ENOSYS);
  });

  test("seccompProgram denies clone with CLONE_PARENT, for a process or a thread", () => {
    expect(verdict(true, nr.clone, [0x00008000 | 17])).toBe(EPERM);
    expect(verdict(true, nr.clone, [0x003d0f00 | 0x00008000])).toBe(EPERM);
  });

  test("seccompProgram denies TIOCSETD: no line discipline is attached, or its module loaded, from inside", () => {
    const TIOCSETD = 0x5423;
    expect(verdict(true, nr.ioctl, [0, TIOCSETD, 0])).toBe(EPERM);
    expect(verdict(false, nr.ioctl, [0, TIOCSETD, 0])).toBe(EPERM);
    // Terminal programs' own ioctls stay: TCGETS, TCSETS, TIOCGWINSZ, TIOCSWINSZ, TIOCGETD, FIONREAD.
    for (const request of [0x5401, 0x5402, 0x5413, 0x5414, 0x5424, 0x541b]) {
      expect(verdict(true, nr.ioctl, [0, request, 0])).toBe(SECCOMP_RET.ALLOW);
    }
  });

  test("seccompProgram answers io_setup ENOSYS: no sandbox takes the host's AIO events", () => {
    expect(verdict(true, nr.io_setup, [1, 0])).toBe(ENOSYS);
    expect(verdict(false, nr.io_setup, [1, 0])).toBe(ENOSYS);
  });

  test("seccompProgram denies socket filters: no sandbox takes the host's BPF JIT memory", () => {
    const SOL_SOCKET = 1;
    for (const network of [true, false]) {
      // SO_ATTACH_FILTER and SO_ATTACH_REUSEPORT_CBPF.
      for (const option of [26, 51]) {
        expect(verdict(network, nr.setsockopt, [3, SOL_SOCKET, option, 0, 16])).toBe(EPERM);
      }
      // SO_REUSEADDR, SO_SNDBUF, SO_DETACH_FILTER, and option 26 of another level (IP_MULTICAST_ALL).
      for (const [level, option] of [[SOL_SOCKET, 2], [SOL_SOCKET, 7], [SOL_SOCKET, 27], [0, 26]] as const) {
        expect(verdict(network, nr.setsockopt, [3, level, option, 0, 4])).toBe(SECCOMP_RET.ALLOW);
      }
    }
  });

  test("seccompProgram denies SO_REUSEPORT: no sandbox joins a host daemon's listener", () => {
    for (const network of [true, false]) {
      expect(verdict(network, nr.setsockopt, [3, 1, 15, 0, 4])).toBe(EPERM);
      // SO_REUSEADDR, and option 15 of another level (IPPROTO_TCP's TCP_REPAIR_QUEUE).
      expect(verdict(network, nr.setsockopt, [3, 1, 2, 0, 4])).toBe(SECCOMP_RET.ALLOW);
      expect(verdict(network, nr.setsockopt, [3, 6, 15, 0, 4])).toBe(SECCOMP_RET.ALLOW);
    }
  });

  test("seccompProgram answers a NETLINK_AUDIT socket EPROTONOSUPPORT, as a kernel without audit", () => {
    const AF_NETLINK = 16;
    const SOCK_RAW = 3;
    expect(verdict(true, nr.socket, [AF_NETLINK, SOCK_RAW, 9])).toBe(SECCOMP_RET.ERRNO | 93);
    // Other netlink protocols (route, uevent) and other families stay with the network on.
    expect(verdict(true, nr.socket, [AF_NETLINK, SOCK_RAW, 0])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.socket, [AF_NETLINK, SOCK_RAW, 15])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.socket, [2, 1, 0])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.socket, [1, 1, 9])).toBe(SECCOMP_RET.ALLOW);
    // With it off every netlink socket is refused already.
    expect(verdict(false, nr.socket, [AF_NETLINK, SOCK_RAW, 9])).toBe(EPERM);
  });

  test("seccompProgram denies btrfs snapshots: no copy of a subvolume escapes the policy's covers", () => {
    for (const request of [0x50009401, 0x50009417]) {
      expect([request, verdict(true, nr.ioctl, [3, request, 0])]).toEqual([request, EPERM]);
      expect([request, verdict(false, nr.ioctl, [3, request, 0])]).toEqual([request, EPERM]);
    }
    // A subvolume of its own (BTRFS_IOC_SUBVOL_CREATE) and reflinks (FICLONE) stay.
    for (const request of [0x5000940e, 0x40049409]) {
      expect([request, verdict(true, nr.ioctl, [3, request, 0])]).toEqual([request, SECCOMP_RET.ALLOW]);
    }
  });

  test("seccompProgram denies F_SETLEASE: no lease holds another process's open of a file", () => {
    const F_SETLEASE = 1024;
    const F_RDLCK = 0;
    expect(verdict(true, nr.fcntl, [3, F_SETLEASE, F_RDLCK])).toBe(EPERM);
    expect(verdict(false, nr.fcntl, [3, F_SETLEASE, F_RDLCK])).toBe(EPERM);
    // Every other fcntl stays: F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_SETLK, F_SETLKW,
    // F_SETOWN, F_GETLEASE, F_NOTIFY, F_DUPFD_CLOEXEC, F_SETPIPE_SZ, F_ADD_SEALS.
    for (const command of [0, 1, 2, 3, 4, 6, 7, 8, 1025, 1026, 1030, 1031, 1033]) {
      expect([command, verdict(true, nr.fcntl, [3, command, 0])]).toEqual([command, SECCOMP_RET.ALLOW]);
    }
  });

  test("seccompProgram denies a thread with a descriptor table of its own", () => {
    // glibc's pthread_create: CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|…
    const PTHREAD = 0x003d0f00;
    const CLONE_FILES = 0x400;
    expect(verdict(true, nr.clone, [PTHREAD])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.clone, [PTHREAD & ~CLONE_FILES])).toBe(EPERM);
    // A process (no CLONE_THREAD) may have a table of its own, as every fork has.
    expect(verdict(true, nr.clone, [0x00000100 | 17])).toBe(SECCOMP_RET.ALLOW);
  });

  test("seccompProgram allows SysV IPC and message queues only in an IPC namespace of the sandbox's own", () => {
    const calls = [
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
    ] as const;
    for (const name of calls) {
      expect([name, verdict(false, nr[name], [], table.auditArch, true)]).toEqual([name, SECCOMP_RET.ALLOW]);
      expect([name, verdict(true, nr[name], [], table.auditArch, false)]).toEqual([name, EPERM]);
    }
    // Either way the sandbox makes and joins no namespace itself: unshare, setns, namespace clones.
    for (const ipcNamespace of [true, false]) {
      expect(verdict(true, nr.unshare, [0x08000000], table.auditArch, ipcNamespace)).toBe(EPERM);
      expect(verdict(true, nr.setns, [3, 0x08000000], table.auditArch, ipcNamespace)).toBe(EPERM);
      expect(verdict(true, nr.clone, [0x08000000 | 17], table.auditArch, ipcNamespace)).toBe(EPERM);
    }
  });

  test("seccompProgram denies host-wide accounting, quota and hangup calls", () => {
    for (const name of ["acct", "quotactl", "vhangup"] as const) {
      expect(verdict(true, nr[name])).toBe(EPERM);
      expect(verdict(false, nr[name])).toBe(EPERM);
    }
  });

  test("seccompProgram lets limits, priorities and affinity target the caller only", () => {
    const OTHER = 4242;
    const POINTER = 0x7ffd_0000;
    // prlimit64(pid, resource, new, old): setting needs pid 0; reading another's is allowed.
    expect(verdict(true, nr.prlimit64, [0, 7, POINTER, 0])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.prlimit64, [OTHER, 7, 0, POINTER])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.prlimit64, [OTHER, 7, POINTER, 0])).toBe(EPERM);
    expect(verdict(false, nr.prlimit64, [OTHER, 7, 2 ** 40, 0])).toBe(EPERM);
    // setpriority(which, who, prio) and ioprio_set(which, who, prio).
    expect(verdict(true, nr.setpriority, [0, 0, 10])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.setpriority, [1, 0, 10])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.setpriority, [0, OTHER, 10])).toBe(EPERM);
    expect(verdict(true, nr.setpriority, [2, 0, 10])).toBe(EPERM);
    expect(verdict(true, nr.ioprio_set, [1, 0, 0])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.ioprio_set, [1, OTHER, 0])).toBe(EPERM);
    expect(verdict(true, nr.ioprio_set, [3, 0, 0])).toBe(EPERM);
    for (
      const name of ["sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr"] as const
    ) {
      expect(verdict(false, nr[name], [0, 8, POINTER])).toBe(SECCOMP_RET.ALLOW);
      expect(verdict(false, nr[name], [OTHER, 8, POINTER])).toBe(EPERM);
    }
  });

  test("seccompProgram refuses to set S_ISUID or S_ISGID through any mode-setting call", () => {
    const PATH = 0x7ffd_0000;
    const AT_FDCWD = -100 >>> 0;
    const O_CREAT = 0o100;
    const O_TMPFILE = 0o20200000;
    for (
      const [mode, expected] of [[0o755, SECCOMP_RET.ALLOW], [0o4755, EPERM], [0o2755, EPERM], [
        0o1777,
        SECCOMP_RET.ALLOW,
      ]] as const
    ) {
      expect(verdict(true, nr.fchmod, [3, mode])).toBe(expected);
      expect(verdict(true, nr.fchmodat, [AT_FDCWD, PATH, mode])).toBe(expected);
      expect(verdict(true, nr.fchmodat2, [AT_FDCWD, PATH, mode, 0])).toBe(expected);
      expect(verdict(true, nr.mknodat, [AT_FDCWD, PATH, 0o100000 | mode, 0])).toBe(expected);
      expect(verdict(true, nr.openat, [AT_FDCWD, PATH, O_CREAT | 1, mode])).toBe(expected);
      expect(verdict(true, nr.openat, [AT_FDCWD, PATH, O_TMPFILE | 2, mode])).toBe(expected);
      for (
        const [name, args] of [["chmod", [PATH, mode]], ["creat", [PATH, mode]], ["mknod", [PATH, mode, 0]], [
          "open",
          [PATH, O_CREAT | 1, mode],
        ]] as const
      ) {
        const number = table.legacy[name];
        if (number !== undefined) expect([name, verdict(true, number, [...args])]).toEqual([name, expected]);
      }
    }
    // Without O_CREAT or O_TMPFILE the mode argument means nothing and is not looked at.
    expect(verdict(true, nr.openat, [AT_FDCWD, PATH, 0, 0o4755])).toBe(SECCOMP_RET.ALLOW);
    expect(verdict(true, nr.openat2, [AT_FDCWD, PATH, PATH, 24])).toBe(ENOSYS);
  });

  if (arch === "x86_64") {
    test("seccompProgram denies x32 system calls", () => {
      expect(verdict(true, 0x40000000 + 1)).toBe(EPERM);
    });
  }
});
