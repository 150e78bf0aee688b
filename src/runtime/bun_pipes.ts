/**
 * Pipes for a Bun child's stdin, stdout and stderr. `Bun.spawn`'s `"pipe"` gives the child one end
 * of a Unix socket pair (as Node does), not a pipe: `read` and `write` work the same, but opening
 * `/dev/stdout`, `/dev/stderr` or `/dev/stdin` (`/proc/self/fd/N`) on a socket fails with ENXIO, so
 * `echo x > /dev/stderr` or `cat /dev/stdin` fail, and bash reads `~/.bashrc` for `bash -c` when
 * its stdin is a socket. Deno and the reference give pipes.
 *
 * So the pipes are made here (`pipe2` through the C library, both ends close-on-exec) and
 * `Bun.spawn` gets the child's ends as numbers, which it puts in place as fds 0–2 (without the
 * flag, and blocking); the parent closes them right after the spawn. Bun reads and writes the
 * parent's ends through `Bun.file(fd)`: its stream reads a pipe without a thread per pipe and only
 * as its reader asks (a paused reader leaves the writer blocked on a full pipe), and its writer
 * waits for room without blocking the event loop. Both work on a duplicate of the descriptor they
 * are given, which they close when they are done with it (Bun 1.4.5), and neither closes the one
 * given: that one is closed here, once.
 */
import { closeSync } from "node:fs";
import { constants } from "node:os";
import { openBunLibc } from "./bun_libc.ts";
import type { Libc, LibcArch } from "./libc.ts";

/** `pipe2`'s number on each architecture. */
const PIPE2: Record<LibcArch, number> = { x86_64: 293, aarch64: 59 };
const O_CLOEXEC = 0o2000000n;

/** Errno numbers to their names, from the runtime's own table. */
const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);

/** The two ends of a pipe. */
export interface Pipe {
  readonly read: number;
  readonly write: number;
}

/** Makes pipes through the C library. */
export class PipeMaker {
  readonly #libc: Libc;

  private constructor(libc: Libc) {
    this.#libc = libc;
  }

  /** Loads the C library for this architecture. */
  static async open(arch: LibcArch): Promise<PipeMaker> {
    return new PipeMaker(await openBunLibc(arch));
  }

  /**
   * A new pipe, both ends close-on-exec, so that no other child inherits them; both are added to
   * `opened` as soon as they exist. Throws the OS error (EMFILE, ENFILE) with its errno `code`.
   */
  pipe(opened: number[]): Pipe {
    const fds = new Uint8Array(8);
    const result = this.#libc.syscall(PIPE2[this.#libc.arch], this.#libc.addressOf(fds), O_CLOEXEC);
    if (result < 0n) {
      const errno = Number(-result);
      const code = ERRNO_NAMES.get(errno) ?? `E${errno}`;
      throw Object.assign(new Error(`${code}: pipe2 failed (os error ${errno})`), { code, errno });
    }
    const view = new DataView(fds.buffer);
    const pipe = { read: view.getInt32(0, true), write: view.getInt32(4, true) };
    opened.push(pipe.read, pipe.write);
    return pipe;
  }
}

/** Closes descriptors this process owns, ignoring one that is closed already. */
export function closeAll(fds: Iterable<number>): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // Closed already.
    }
  }
}

/** What the parent keeps of a child's pipes once the child runs. */
export interface ParentEnds {
  readonly stdin: Bun.FileSink | null;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
}

/** The pipes of one child: its ends for `Bun.spawn`, and the parent's. */
export class ChildPipes {
  /** The child's fds 0–2 as `Bun.spawn`'s `stdio` takes them. */
  readonly stdio: [number | "ignore", number, number];
  readonly #childEnds: number[];
  readonly #stdout: number;
  readonly #stderr: number;
  readonly #stdin: Bun.FileSink | null;

  private constructor(
    ends: { stdio: [number | "ignore", number, number]; stdout: number; stderr: number },
    stdin: Bun.FileSink | null,
  ) {
    this.stdio = ends.stdio;
    this.#childEnds = ends.stdio.filter((end) => end !== "ignore");
    this.#stdout = ends.stdout;
    this.#stderr = ends.stderr;
    this.#stdin = stdin;
  }

  /** Makes the pipes, stdin's too when `withStdin`; on a failure, closes what it made and throws. */
  static make(maker: PipeMaker, withStdin: boolean): ChildPipes {
    const opened: number[] = [];
    try {
      const input = withStdin ? maker.pipe(opened) : null;
      const stdout = maker.pipe(opened);
      const stderr = maker.pipe(opened);
      // The sink writes through a duplicate of the end it is given, made here and closed at its
      // `end()`; made before the spawn, so that a failure to make it (EMFILE) starts nothing.
      const sink = input === null ? null : Bun.file(input.write).writer();
      if (input !== null) closeAll(opened.splice(opened.indexOf(input.write), 1));
      const stdio: [number | "ignore", number, number] = [
        input?.read ?? "ignore",
        stdout.write,
        stderr.write,
      ];
      return new ChildPipes({ stdio, stdout: stdout.read, stderr: stderr.read }, sink);
    } catch (error) {
      closeAll(opened);
      throw error;
    }
  }

  /**
   * The child runs: closes its ends here, so that end of file and EPIPE follow only the child and
   * its descendants, and hands over the parent's.
   */
  spawned(): ParentEnds {
    closeAll(this.#childEnds);
    return { stdin: this.#stdin, stdout: pipeReadable(this.#stdout), stderr: pipeReadable(this.#stderr) };
  }

  /** The spawn failed: closes every end. */
  async abandon(): Promise<void> {
    closeAll([...this.#childEnds, this.#stdout, this.#stderr]);
    try {
      await this.#stdin?.end();
    } catch {
      // Nothing was written: the sink's end is closed either way.
    }
  }
}

/**
 * The read end `fd` of a pipe as a stream that reads only when its reader asks (no read ahead of
 * the first `read`), and closes `fd` once. The runtime's reader works on a duplicate of `fd` that
 * it makes when it is created and closes at end of file, on a read error or when cancelled; `fd`
 * itself is closed as soon as that reader exists, so that a running process holds one descriptor
 * per stream in the server rather than two. Before it exists, a cancel closes `fd`.
 */
export function pipeReadable(fd: number): ReadableStream<Uint8Array> {
  let source: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let released = false;
  let cancelled = false;
  const release = (): void => {
    if (released) return;
    released = true;
    closeAll([fd]);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (source === null) {
          source = Bun.file(fd).stream().getReader();
          release();
        }
        const next = await source.read();
        // A cancel while the read was under way has closed the stream already.
        if (cancelled) return;
        if (next.done) {
          release();
          controller.close();
        } else {
          controller.enqueue(next.value);
        }
      } catch (error) {
        release();
        if (!cancelled) controller.error(error);
      }
    },
    async cancel(reason) {
      cancelled = true;
      try {
        await source?.cancel(reason);
      } finally {
        release();
      }
    },
  }, { highWaterMark: 0 });
}
