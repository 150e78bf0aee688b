/**
 * One poll(2) for every Deno terminal's master. A `nonblocking` FFI call holds a thread of Deno's
 * blocking pool (32 threads) for as long as it runs, and that pool also runs every asynchronous
 * file operation: a poll per waiting terminal used the pool up by the 32nd idle terminal, and from
 * then on starts, file requests and other terminals waited until some terminal printed or exited.
 * One shared poll holds one thread, however many terminals wait.
 */

const POLLIN = 0x1;
/** POLLERR, POLLHUP and POLLNVAL: reported whatever was asked for, and each ends a wait. */
const POLL_TROUBLE = 0x8 | 0x10 | 0x20;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
/** The size of one `struct pollfd`: fd (i32), events (i16), revents (i16). */
const POLLFD_BYTES = 8;

/** The libc calls the poller makes, as `Deno.dlopen` gives them. */
export interface PollerLibc {
  poll(fds: Uint8Array<ArrayBuffer>, count: bigint, timeout: number): Promise<number>;
  pipe2(fds: Int32Array<ArrayBuffer>, flags: number): number;
  read(fd: number, buffer: Uint8Array<ArrayBuffer>, count: bigint): number | bigint;
  write(fd: number, buffer: Uint8Array<ArrayBuffer>, count: bigint): number | bigint;
  close(fd: number): number;
}

interface Waiter {
  readonly fd: number;
  readonly events: number;
  readonly resolve: () => void;
}

/** Waits for many descriptors at once on one thread; a wake pipe lets it take in new waiters. */
export class PtyPoller {
  readonly #lib: PollerLibc;
  readonly #wakeRead: number;
  readonly #wakeWrite: number;
  readonly #drain = new Uint8Array(64);
  readonly #waiters = new Set<Waiter>();
  /** The descriptors of the poll in flight, or null between polls. */
  #polling: ReadonlySet<number> | null = null;
  /** Closes held back until the poll in flight, which watches their descriptors, is back. */
  #afterPoll: (() => void)[] = [];
  #woken = false;

  /** Throws the OS error (EMFILE, say) when the wake pipe cannot be made. */
  constructor(lib: PollerLibc, fail: (call: string) => Error) {
    this.#lib = lib;
    const pipe = new Int32Array(2);
    if (lib.pipe2(pipe, O_CLOEXEC | O_NONBLOCK) < 0) throw fail("pipe2");
    this.#wakeRead = pipe[0] ?? -1;
    this.#wakeWrite = pipe[1] ?? -1;
  }

  /**
   * Resolves once `fd` is ready for `events` (or has an error or a hang-up), or once `release`
   * drops it: the caller looks again either way.
   */
  wait(fd: number, events: number): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.add({ fd, events, resolve });
      if (this.#polling === null) void this.#run();
      else this.#wake();
    });
  }

  /**
   * Ends the waits on `fd` and runs `close` as soon as no poll in flight watches it, so that its
   * number, reused by then, is never polled for someone else.
   */
  release(fd: number, close: () => void): void {
    for (const waiter of this.#waiters) {
      if (waiter.fd !== fd) continue;
      this.#waiters.delete(waiter);
      waiter.resolve();
    }
    if (this.#polling?.has(fd) === true) {
      this.#afterPoll.push(close);
      this.#wake();
    } else {
      close();
    }
  }

  #wake(): void {
    if (this.#woken) return;
    this.#woken = true;
    this.#lib.write(this.#wakeWrite, new Uint8Array(1), 1n);
  }

  async #run(): Promise<void> {
    while (this.#waiters.size > 0) {
      // One entry per descriptor (a read and a write may wait on the same master): poll refuses
      // more entries than the descriptor limit.
      const wanted = new Map<number, number>();
      for (const waiter of this.#waiters) wanted.set(waiter.fd, (wanted.get(waiter.fd) ?? 0) | waiter.events);
      const fds = new Uint8Array(POLLFD_BYTES * (wanted.size + 1));
      const view = new DataView(fds.buffer);
      view.setInt32(0, this.#wakeRead, true);
      view.setInt16(4, POLLIN, true);
      let offset = POLLFD_BYTES;
      for (const [fd, events] of wanted) {
        view.setInt32(offset, fd, true);
        view.setInt16(offset + 4, events, true);
        offset += POLLFD_BYTES;
      }
      this.#polling = new Set(wanted.keys());
      try {
        // A -1 (EINTR, on another thread's errno) just means: look again.
        await this.#lib.poll(fds, BigInt(wanted.size + 1), -1);
      } finally {
        this.#polling = null;
      }
      this.#woken = false;
      while (Number(this.#lib.read(this.#wakeRead, this.#drain, BigInt(this.#drain.length))) > 0) {
        // Emptied: the next wake is a new byte.
      }
      const returned = new Map<number, number>();
      offset = POLLFD_BYTES;
      for (const fd of wanted.keys()) {
        returned.set(fd, view.getInt16(offset + 6, true));
        offset += POLLFD_BYTES;
      }
      for (const waiter of this.#waiters) {
        // A waiter that came in during the poll may want what this poll did not look for.
        if (((returned.get(waiter.fd) ?? 0) & (waiter.events | POLL_TROUBLE)) === 0) continue;
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
      const closes = this.#afterPoll;
      this.#afterPoll = [];
      for (const close of closes) close();
    }
  }
}
