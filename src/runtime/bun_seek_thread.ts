/**
 * `lseek` on a thread of its own, for Bun, whose FFI runs every call on the calling thread.
 *
 * `SEEK_DATA` and `SEEK_HOLE` take the file's inode lock (ext4, xfs, tmpfs, btrfs alike), which a
 * writer holds for the whole of each write: a sandboxed process that kept writing a file in a
 * root the client copied held every `lseek` of the copy, and on the server's thread that held
 * every client's requests (red team 16b: 22 s of 25 in one copy, up to 1.1 s at a time). Here the
 * calls run in a `Worker` thread, one at a time, so a held lock holds the copies that look into
 * that file and those queued behind them, not the server. The thread runs the same raw system
 * call as `bun_libc.ts` (the kernel's own errno), from the executable page the server mapped:
 * threads share it.
 */
import { hexBytes, mapCode, RAW_SYSCALL_X86_64, syscallArgs } from "./raw_syscall.ts";

const SYSCALL_ARGS = ["i64", "i64", "i64", "i64", "i64", "i64", "i64"] as const;
const LSEEK = 8;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENOSYS = -38;

/** The most runs one message of the thread finds. */
export const RUNS_PER_MESSAGE = 64;

/**
 * The thread's code: the first message is the raw call's address, each one after it
 * `[id, fd, offset]`, answered `[id, runs]`: the starts and ends of up to `RUNS_PER_MESSAGE` runs
 * of data from `offset` on, then, where the walk stopped before that many, what stopped it (the
 * kernel's `-errno`; ENXIO: no data left). A string, so that it runs the same from sources, the
 * bundle and the compiled executable.
 */
const THREAD_SOURCE = `
import { CFunction } from "bun:ffi";
let raw = null;
const seek = (fd, offset, whence) =>
  Number(raw(${LSEEK}n, BigInt(fd), BigInt(offset), BigInt(whence), 0n, 0n, 0n));
self.onmessage = ({ data }) => {
  if (raw === null) {
    raw = CFunction({ ptr: data, args: ${JSON.stringify(SYSCALL_ARGS)}, returns: "i64" });
    return;
  }
  const [id, fd, from] = data;
  const runs = [];
  for (let offset = from; runs.length < ${2 * RUNS_PER_MESSAGE};) {
    const start = seek(fd, offset, ${SEEK_DATA});
    if (start < 0) { runs.push(start); break; }
    const end = seek(fd, start, ${SEEK_HOLE});
    if (end < 0) { runs.push(end); break; }
    runs.push(start, end);
    offset = end;
  }
  postMessage([id, runs]);
};
`;

/**
 * Runs of data of the file open as `fd` from `offset` on, found off the calling thread: starts and
 * ends in pairs, then what stopped the walk where it stopped early (see `THREAD_SOURCE`).
 */
export type ThreadRuns = (fd: number, offset: number) => Promise<number[]>;

/** The walk, or null where the raw call cannot be mapped (x86-64 only). */
export async function openSeekThread(): Promise<ThreadRuns | null> {
  const ffi = await import("bun:ffi");
  const { symbols } = ffi.dlopen("libc.so.6", { syscall: { args: [...SYSCALL_ARGS], returns: "i64" } });
  const code = mapCode(hexBytes(RAW_SYSCALL_X86_64), {
    syscall: (nr, ...args) => BigInt(symbols.syscall(...syscallArgs(nr, args))),
    addressOf: (buffer) => BigInt(ffi.ptr(buffer)),
  });
  if (code === null) return null;
  const address = Number(code);
  const url = URL.createObjectURL(new Blob([THREAD_SOURCE], { type: "application/javascript" }));
  const pending = new Map<number, (runs: number[]) => void>();
  let thread: Worker | null = null;
  let ids = 0;

  /** The thread, started at the first call and again after it failed. */
  const started = (): Worker => {
    if (thread !== null) return thread;
    const made = new Worker(url);
    // The thread keeps no server alive. (Bun's `Worker` has `unref`; the DOM's type, which tsc
    // knows, does not.)
    (made as Worker & { unref(): void }).unref();
    made.onmessage = ({ data }: MessageEvent<[number, number[]]>) => {
      const [id, runs] = data;
      pending.get(id)?.(runs);
      pending.delete(id);
    };
    made.onerror = () => {
      // The copy reads the rest instead (copy_contents.ts): no call waits for a thread that is gone.
      for (const settle of pending.values()) settle([ENOSYS]);
      pending.clear();
      if (thread === made) thread = null;
      made.terminate();
    };
    made.postMessage(address);
    thread = made;
    return made;
  };

  return (fd, offset) =>
    new Promise<number[]>((resolve) => {
      const id = ids++;
      pending.set(id, resolve);
      started().postMessage([id, fd, offset]);
    });
}
