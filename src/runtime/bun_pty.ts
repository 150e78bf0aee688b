/**
 * A pseudo-terminal for Bun whose output reading follows the reader. `Bun.spawn({ terminal })`
 * reads the master as fast as the child writes and hands every byte to a callback, so a child
 * that floods a terminal while the client does not read grows the server without bound; and
 * Bun's `node:tty` and `node:net` streams over a master either block a thread-pool thread per
 * read (a few waiting terminals starve every other file operation) or stop at EAGAIN.
 *
 * So libc (through `bun:ffi`) opens the master here, a detached `/bin/sh` opens the slave as the
 * child's controlling terminal (as on Deno), and two `cat` relays move the bytes through pipes,
 * which Bun reads and writes with back-pressure: the output relay blocks on a full pipe and stops
 * reading the master, so the child blocks on a full terminal as it would on a slow one.
 */
import { closeSync } from "node:fs";
import { ptyLaunchArgs } from "./pty_launch.ts";
import type { PtyTools } from "./pty_launch.ts";
import type { ExitStatus, PtyChild, SpawnPlan, TerminalSize } from "./runtime.ts";

// Linux values; identical on x86_64 and aarch64.
const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_CLOEXEC = 0o2000000;
const TIOCSWINSZ = 0x5414;
const FIOCLEX = 0x5451;
const SIGKILL = 9;

type Ffi = typeof import("bun:ffi");

/** The libc calls of a terminal, loaded once. */
interface PtyLibc {
  readonly ffi: Ffi;
  readonly symbols: {
    posix_openpt(flags: number): number;
    grantpt(fd: number): number;
    unlockpt(fd: number): number;
    ptsname_r(fd: number, buffer: Uint8Array, size: bigint): number;
    open(path: Uint8Array, flags: number): number;
    ioctl(fd: number, request: bigint, argument: Uint8Array): number;
    __errno_location(): unknown;
  };
}

let libcCache: Promise<PtyLibc> | null = null;

function ptyLibc(): Promise<PtyLibc> {
  libcCache ??= (async () => {
    const ffi = await import("bun:ffi");
    const { symbols } = ffi.dlopen("libc.so.6", {
      posix_openpt: { args: ["i32"], returns: "i32" },
      grantpt: { args: ["i32"], returns: "i32" },
      unlockpt: { args: ["i32"], returns: "i32" },
      ptsname_r: { args: ["i32", "buffer", "usize"], returns: "i32" },
      open: { args: ["buffer", "i32"], returns: "i32" },
      ioctl: { args: ["i32", "u64", "buffer"], returns: "i32" },
      __errno_location: { args: [], returns: "ptr" },
    });
    // The declared signatures above are what these symbols take and return.
    return { ffi, symbols: symbols as unknown as PtyLibc["symbols"] };
  })();
  return libcCache;
}

/** An `Error` with the errno code of the last failed call, like the runtime's own OS errors. */
function osError(lib: PtyLibc, call: string): Error {
  const location = lib.symbols.__errno_location();
  // bun:ffi gives a `ptr` result as a number (or null).
  const code = typeof location === "number" ? lib.ffi.read.i32(location as never, 0) : 0;
  const names: Record<number, string> = { 2: "ENOENT", 5: "EIO", 9: "EBADF", 13: "EACCES", 24: "EMFILE" };
  const name = names[code] ?? `E${code}`;
  return Object.assign(new Error(`${call}: ${name} (os error ${code})`), { code: name, errno: code });
}

function check(lib: PtyLibc, call: string, result: number): number {
  if (result < 0) throw osError(lib, call);
  return result;
}

function winsize(size: TerminalSize): Uint8Array {
  const buffer = new Uint8Array(8);
  const view = new DataView(buffer.buffer);
  view.setUint16(0, size.rows, true);
  view.setUint16(2, size.cols, true);
  return buffer;
}

/** The first `cat` of the host. */
const CAT = ["/bin/cat", "/usr/bin/cat"].find((path) => Bun.file(path).size > 0) ?? "/bin/cat";

/** How the adapter reads a child's exit (Bun's fields mapped to an `ExitStatus`). */
type StatusOf = (proc: Bun.Subprocess) => Promise<ExitStatus>;

/** A child of `/bin/sh` on a terminal whose master this process holds. */
class BunPtyChild implements PtyChild {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  readonly #lib: PtyLibc;
  readonly #master: number;
  readonly #reader: Bun.Subprocess;
  readonly #writer: Bun.Subprocess;
  readonly #input: Bun.FileSink;
  #closed = false;

  constructor(options: { pid: number; master: number; lib: PtyLibc; exited: Promise<ExitStatus> }) {
    this.pid = options.pid;
    this.#lib = options.lib;
    this.#master = options.master;
    this.exited = options.exited;
    this.#reader = Bun.spawn([CAT], {
      stdin: options.master,
      stdout: "pipe",
      stderr: "ignore",
      detached: true,
      env: {},
      // Read only once `output` is: before, Bun would read the relay into memory without bound.
      lazy: true,
    });
    this.#writer = Bun.spawn([CAT], {
      stdin: "pipe",
      stdout: options.master,
      stderr: "ignore",
      detached: true,
      env: {},
    });
    const input = this.#writer.stdin;
    if (input === undefined || typeof input === "number") {
      throw new TypeError("bun did not give the input relay its pipe");
    }
    this.#input = input;
  }

  /** Reads the master until every holder of the slave is gone (the relay then gets EIO and exits). */
  get output(): ReadableStream<Uint8Array> {
    const output = this.#reader.stdout;
    if (!(output instanceof ReadableStream)) {
      throw new TypeError("bun did not give the output relay its pipe");
    }
    return output;
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.#closed) throw Object.assign(new Error("EIO: terminal is closed"), { code: "EIO" });
    // The sink keeps arrival order and waits for room; a relay that is gone answers with a boolean.
    const accepted: unknown = this.#input.write(data);
    if (typeof accepted === "boolean") {
      throw Object.assign(new Error("EIO: terminal is closed"), { code: "EIO" });
    }
    if (accepted instanceof Promise) await accepted;
    await this.#input.flush();
  }

  resize(size: TerminalSize): void {
    if (this.#closed) return;
    check(
      this.#lib,
      "ioctl(TIOCSWINSZ)",
      this.#lib.symbols.ioctl(this.#master, BigInt(TIOCSWINSZ), winsize(size)),
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const relayProcess of [this.#reader, this.#writer]) {
      try {
        process.kill(-relayProcess.pid, SIGKILL);
      } catch {
        // It has exited already.
      }
    }
    closeSync(this.#master);
  }
}

/** Starts `plan` on a new terminal of `size`, read and written through relays. */
export async function spawnBunPty(
  plan: SpawnPlan,
  size: TerminalSize,
  tools: PtyTools & { readonly statusOf: StatusOf },
): Promise<PtyChild> {
  const lib = await ptyLibc();
  const c = lib.symbols;
  const master = check(lib, "posix_openpt", c.posix_openpt(O_RDWR | O_NOCTTY));
  let slave = -1;
  try {
    check(lib, "grantpt", c.grantpt(master));
    check(lib, "unlockpt", c.unlockpt(master));
    const name = new Uint8Array(128);
    const failed = c.ptsname_r(master, name, BigInt(name.length));
    if (failed !== 0) throw osError(lib, "ptsname_r");
    const end = name.indexOf(0);
    const path = new TextDecoder().decode(name.subarray(0, end < 0 ? name.length : end));
    // Only the relays may hold the master: a child holding it keeps the terminal from its end.
    check(lib, "ioctl(FIOCLEX)", c.ioctl(master, BigInt(FIOCLEX), new Uint8Array(8)));
    check(lib, "ioctl(TIOCSWINSZ)", c.ioctl(master, BigInt(TIOCSWINSZ), winsize(size)));
    // Held until the exit is known: without it, the master reads EIO in the window before the
    // child has opened the terminal, and the output relay would stop at once.
    slave = check(
      lib,
      "open(pts)",
      c.open(new TextEncoder().encode(`${path}\0`), O_RDWR | O_NOCTTY | O_CLOEXEC),
    );
    const proc = Bun.spawn(["/bin/sh", ...ptyLaunchArgs(plan, path, tools)], {
      cwd: plan.cwd,
      env: { ...plan.env },
      detached: true,
      stdio: ["ignore", "ignore", "ignore"],
    });
    const heldSlave = slave;
    // From here on the exit closes it, and only the exit: closed twice, its number could be another
    // connection's or child's by then (descriptors run short exactly when a relay cannot start).
    slave = -1;
    const exited = tools.statusOf(proc).finally(() => closeSync(heldSlave));
    try {
      return new BunPtyChild({ pid: proc.pid, master, lib, exited });
    } catch (error) {
      // The relays could not start: the shell must not run on, unseen, with no one reading it.
      try {
        process.kill(-proc.pid, SIGKILL);
      } catch {
        // Already gone.
      }
      throw error;
    }
  } catch (error) {
    if (slave >= 0) closeSync(slave);
    closeSync(master);
    throw error;
  }
}
