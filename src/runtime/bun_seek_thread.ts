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
const ENOSYS = -38;

/**
 * The thread's code: the first message is the raw call's address, each one after it
 * `[id, fd, offset, whence]`, answered `[id, result]`. A string, so that it runs the same from
 * sources, the bundle and the compiled executable.
 */
const THREAD_SOURCE = `
import { CFunction } from "bun:ffi";
let raw = null;
self.onmessage = ({ data }) => {
  if (raw === null) {
    raw = CFunction({ ptr: data, args: ${JSON.stringify(SYSCALL_ARGS)}, returns: "i64" });
    return;
  }
  const [id, fd, offset, whence] = data;
  postMessage([id, Number(raw(${LSEEK}n, BigInt(fd), BigInt(offset), BigInt(whence), 0n, 0n, 0n))]);
};
`;

/** `lseek(fd, offset, whence)` off the calling thread: the kernel's result, `-errno` on failure. */
export type ThreadSeek = (fd: number, offset: number, whence: number) => Promise<number>;

/** The seek, or null where the raw call cannot be mapped (x86-64 only). */
export async function openSeekThread(): Promise<ThreadSeek | null> {
  const ffi = await import("bun:ffi");
  const { symbols } = ffi.dlopen("libc.so.6", { syscall: { args: [...SYSCALL_ARGS], returns: "i64" } });
  const code = mapCode(hexBytes(RAW_SYSCALL_X86_64), {
    syscall: (nr, ...args) => BigInt(symbols.syscall(...syscallArgs(nr, args))),
    addressOf: (buffer) => BigInt(ffi.ptr(buffer)),
  });
  if (code === null) return null;
  const address = Number(code);
  const url = URL.createObjectURL(new Blob([THREAD_SOURCE], { type: "application/javascript" }));
  const pending = new Map<number, (result: number) => void>();
  let thread: Worker | null = null;
  let ids = 0;

  /** The thread, started at the first call and again after it failed. */
  const started = (): Worker => {
    if (thread !== null) return thread;
    const made = new Worker(url);
    // The thread keeps no server alive, and its calls' replies arrive whatever else runs.
    // (Bun's `Worker` has `unref`; the DOM's type, which tsc knows, does not.)
    (made as Worker & { unref(): void }).unref();
    made.onmessage = ({ data }: MessageEvent<[number, number]>) => {
      const [id, result] = data;
      pending.get(id)?.(result);
      pending.delete(id);
    };
    made.onerror = () => {
      // The copy reads the rest instead (copy_contents.ts): no call waits for a thread that is gone.
      for (const settle of pending.values()) settle(ENOSYS);
      pending.clear();
      if (thread === made) thread = null;
      made.terminate();
    };
    made.postMessage(address);
    thread = made;
    return made;
  };

  return (fd, offset, whence) =>
    new Promise<number>((resolve) => {
      const id = ids++;
      pending.set(id, resolve);
      started().postMessage([id, fd, offset, whence]);
    });
}
