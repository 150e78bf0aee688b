/**
 * A pseudo-terminal for Deno, which has no PTY API: libc through FFI opens the master, and a
 * detached `/bin/sh` opens the slave as its controlling terminal and execs the program.
 */
import { openDenoLibc } from "./deno_libc.ts";
import type { Libc as SyscallLibc } from "./libc.ts";
import { PtyPoller } from "./deno_pty_poller.ts";
import { ptyLaunchArgs } from "./pty_launch.ts";
import type { ExitStatus, PtyChild, SpawnPlan, TerminalSize } from "./runtime.ts";

// Linux values; identical on x86_64 and aarch64.
const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
const TIOCSWINSZ = 0x5414;
const FIOCLEX = 0x5451;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const EINTR = 4;
const EIO = 5;
const EAGAIN = 11;
const READ_BYTES = 65536;

const SYMBOLS = {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libcCache: Libc | null = null;
let syscallsCache: SyscallLibc | null = null;
let pollerCache: PtyPoller | null = null;

/** read(2) and write(2) by number, for the master's loops. */
const IO_NUMBERS = { x86_64: { read: 0, write: 1 }, aarch64: { read: 63, write: 64 } } as const;

/** Opens libc once per process. */
function libc(): Libc {
  libcCache ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return libcCache;
}

/**
 * System calls that return -errno themselves (`raw_syscall.ts`): the master's loops tell EAGAIN
 * (wait) from EIO (end of the terminal) by it, and an errno read after the call could be one the
 * engine left in between, ending a terminal's output early or failing its read.
 */
function syscalls(): SyscallLibc {
  syscallsCache ??= openDenoLibc(Deno.build.arch === "aarch64" ? "aarch64" : "x86_64");
  return syscallsCache;
}

/** The one poller of every terminal; made by the first terminal, it lives as long as the process. */
function poller(lib: Libc): PtyPoller {
  pollerCache ??= new PtyPoller(lib, (call) => osError(call, errno(lib)));
  return pollerCache;
}

/** Reads the calling thread's errno; valid right after a synchronous FFI call. */
function errno(lib: Libc): number {
  const pointer = lib.__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/** An `Error` with the errno code name, like the runtime's own OS errors. */
function osError(call: string, code: number): Error {
  const names: Record<number, string> = { 2: "ENOENT", 5: "EIO", 9: "EBADF", 13: "EACCES", 24: "EMFILE" };
  const name = names[code] ?? `E${code}`;
  return Object.assign(new Error(`${call}: ${name} (os error ${code})`), { code: name, errno: code });
}

/** Fails with the current errno when a libc call returned -1. */
function check(lib: Libc, call: string, result: number | bigint): number {
  const value = Number(result);
  if (value < 0) throw osError(call, errno(lib));
  return value;
}

/** Encodes a path as a NUL-terminated C string. */
function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** A `struct winsize` for TIOCSWINSZ. */
function winsize(size: TerminalSize): Uint8Array<ArrayBuffer> {
  const buffer = new Uint8Array(8);
  const view = new DataView(buffer.buffer);
  view.setUint16(0, size.rows, true);
  view.setUint16(2, size.cols, true);
  return buffer;
}

/** Signal names as Deno reports them, to numbers. */
export type SignalTable = ReadonlyMap<string, number>;

/** The master side of one terminal: owns the fds and the read and write loops. */
class Master {
  readonly #lib: Libc;
  readonly #io = syscalls();
  readonly #numbers = IO_NUMBERS[this.#io.arch];
  readonly #fd: number;
  /**
   * One buffer for every read: a terminal hands out a few KiB per read, and a fresh 64 KiB each
   * time made a flood allocate tens of times what it carried.
   */
  readonly #readBuffer = new Uint8Array(READ_BYTES);
  readonly #poller: PtyPoller;
  #closing = false;

  constructor(lib: Libc, fd: number, poller: PtyPoller) {
    this.#lib = lib;
    this.#fd = fd;
    this.#poller = poller;
  }

  get fd(): number {
    return this.#fd;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Waits until the master is ready for `events` or the terminal is being closed. */
  #wait(events: number): Promise<void> {
    return this.#poller.wait(this.#fd, events);
  }

  /** Reads the next chunk; null at end of file (EIO once every slave holder has closed). */
  async read(): Promise<Uint8Array | null> {
    const buffer = this.#readBuffer;
    while (!this.#closing) {
      const n = Number(
        this.#io.syscall(
          this.#numbers.read,
          BigInt(this.#fd),
          this.#io.addressOf(buffer),
          BigInt(READ_BYTES),
        ),
      );
      if (n > 0) return buffer.slice(0, n);
      if (n === 0) return null;
      const code = -n;
      if (code === EAGAIN) await this.#wait(POLLIN);
      else if (code !== EINTR) return code === EIO ? null : Promise.reject(osError("read", code));
    }
    return null;
  }

  /** Writes every byte, waiting for room when the terminal's input queue is full. */
  async write(data: Uint8Array): Promise<void> {
    // FFI wants a buffer backed by an ArrayBuffer; copying also detaches us from the caller's bytes.
    let rest = data.slice();
    while (rest.length > 0) {
      if (this.#closing) throw osError("write", EIO);
      const n = Number(
        this.#io.syscall(
          this.#numbers.write,
          BigInt(this.#fd),
          this.#io.addressOf(rest),
          BigInt(rest.length),
        ),
      );
      if (n >= 0) {
        rest = rest.subarray(n);
        continue;
      }
      const code = -n;
      if (code === EAGAIN) await this.#wait(POLLOUT);
      else if (code !== EINTR) throw osError("write", code);
    }
  }

  resize(size: TerminalSize): void {
    if (this.#closing) return;
    check(this.#lib, "ioctl(TIOCSWINSZ)", this.#lib.ioctl(this.#fd, BigInt(TIOCSWINSZ), winsize(size)));
  }

  /** Stops the loops; the fd closes, once, as soon as no poll uses it (so no fd is reused under it). */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#poller.release(this.#fd, () => this.#lib.close(this.#fd));
  }
}

/** Opens a master with close-on-exec and non-blocking reads, sized, and returns it with its pts path. */
function openMaster(lib: Libc, size: TerminalSize): { master: Master; path: string } {
  const shared = poller(lib);
  const fd = check(lib, "posix_openpt", lib.posix_openpt(O_RDWR | O_NOCTTY));
  try {
    check(lib, "grantpt", lib.grantpt(fd));
    check(lib, "unlockpt", lib.unlockpt(fd));
    const name = new Uint8Array(128);
    const failed = lib.ptsname_r(fd, name, BigInt(name.length));
    if (failed !== 0) throw osError("ptsname_r", failed);
    const end = name.indexOf(0);
    const path = new TextDecoder().decode(name.subarray(0, end < 0 ? name.length : end));
    // posix_openpt has no O_CLOEXEC and Deno.Command does not close inherited fds: without this
    // the child holds the master too and the terminal never reaches end of file.
    check(lib, "ioctl(FIOCLEX)", lib.ioctl(fd, BigInt(FIOCLEX), new Uint8Array(8)));
    const flags = check(lib, "fcntl(F_GETFL)", lib.fcntl(fd, F_GETFL, 0));
    check(lib, "fcntl(F_SETFL)", lib.fcntl(fd, F_SETFL, flags | O_NONBLOCK));
    check(lib, "ioctl(TIOCSWINSZ)", lib.ioctl(fd, BigInt(TIOCSWINSZ), winsize(size)));
    return { master: new Master(lib, fd, shared), path };
  } catch (error) {
    lib.close(fd);
    throw error;
  }
}

/** A child of `/bin/sh` on a terminal whose master lives in this process. */
class DenoPtyChild implements PtyChild {
  readonly pid: number;
  readonly output: ReadableStream<Uint8Array>;
  readonly exited: Promise<ExitStatus>;
  readonly #master: Master;
  #writes: Promise<void> = Promise.resolve();

  constructor(pid: number, master: Master, exited: Promise<ExitStatus>) {
    this.pid = pid;
    this.#master = master;
    this.exited = exited;
    this.output = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = await master.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel() {
        master.close();
      },
    }, { highWaterMark: 4 });
  }

  write(data: Uint8Array): Promise<void> {
    // One write at a time, so concurrent callers keep their order and never interleave.
    const next = this.#writes.then(() => this.#master.write(data));
    this.#writes = next.catch(() => {});
    return next;
  }

  resize(size: TerminalSize): void {
    this.#master.resize(size);
  }

  close(): void {
    this.#master.close();
  }
}

/** Starts `plan` on a new terminal of `size`; `signals` maps Deno's signal names to numbers. */
export function spawnDenoPty(
  plan: SpawnPlan,
  size: TerminalSize,
  tools: { signals: SignalTable; perl: string | null; env: string | null },
): PtyChild {
  const signals = tools.signals;
  const lib = libc();
  const { master, path } = openMaster(lib, size);
  // The parent keeps a slave open until the exit is known: without it, reads on the master fail
  // with EIO in the window before the child has opened the terminal.
  let slave = -1;
  let child: Deno.ChildProcess;
  try {
    slave = check(lib, "open(pts)", lib.open(cString(path), O_RDWR | O_NOCTTY | O_CLOEXEC));
    child = new Deno.Command("/bin/sh", {
      args: ptyLaunchArgs(plan, path, tools),
      cwd: plan.cwd,
      env: { ...plan.env },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
  } catch (error) {
    if (slave >= 0) lib.close(slave);
    master.close();
    throw error;
  }
  const exited = child.status.then((status): ExitStatus => {
    lib.close(slave);
    const signal = status.signal === null ? undefined : signals.get(status.signal);
    return signal === undefined ? { code: status.code, signal: null } : { code: null, signal };
  });
  return new DenoPtyChild(child.pid, master, exited);
}
