/**
 * Checked system calls by name over a `Libc`, with C strings and pointer arrays.
 */
import type { Libc } from "../runtime/mod.ts";
import { type SyscallName, type SyscallTable, syscallTable } from "./syscall_numbers.ts";

const ENCODER = new TextEncoder();

/** A failed system call: the call's name, errno and a short description. */
export class SyscallError extends Error {
  readonly errno: number;
  readonly call: string;
  constructor(call: string, errno: number, detail: string) {
    super(`${call}${detail === "" ? "" : ` ${detail}`}: ${errnoText(errno)} (os error ${errno})`);
    this.name = "SyscallError";
    this.errno = errno;
    this.call = call;
  }
}

const ERRNO_TEXT: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  9: "Bad file descriptor",
  12: "Cannot allocate memory",
  13: "Permission denied",
  14: "Bad address",
  16: "Device or resource busy",
  17: "File exists",
  20: "Not a directory",
  22: "Invalid argument",
  30: "Read-only file system",
  38: "Function not implemented",
  95: "Operation not supported",
};

/** The text of an errno value. */
function errnoText(errno: number): string {
  return ERRNO_TEXT[errno] ?? `errno ${errno}`;
}

/** System calls by name, throwing `SyscallError` on failure. */
export class Sys {
  readonly libc: Libc;
  readonly table: SyscallTable;
  // Buffers handed to the kernel stay referenced here until the next call, so their addresses hold.
  #keep: Uint8Array[] = [];

  constructor(libc: Libc) {
    this.libc = libc;
    this.table = syscallTable(libc.arch);
  }

  /** Calls `name`; returns the result or throws with `detail` in the message. */
  call(name: SyscallName, args: readonly bigint[], detail = ""): bigint {
    const result = this.try(name, args);
    if (result < 0n) throw new SyscallError(name, Number(-result), detail);
    return result;
  }

  /** Like `call`, but returns `-errno` instead of throwing. */
  try(name: SyscallName, args: readonly bigint[]): bigint {
    const result = this.libc.syscall(this.table.numbers[name], ...args);
    this.#keep = [];
    return result;
  }

  /** A NUL-terminated copy of `text`, kept alive until the next call; returns its address. */
  cString(text: string): bigint {
    const bytes = ENCODER.encode(text);
    const buffer = new Uint8Array(bytes.length + 1);
    buffer.set(bytes);
    return this.buffer(buffer);
  }

  /** Keeps `buffer` alive until the next call; returns its address. */
  buffer(buffer: Uint8Array): bigint {
    this.#keep.push(buffer);
    return this.libc.addressOf(buffer);
  }

  /** A NULL-terminated array of C strings (argv, envp); returns its address. */
  cStringArray(items: readonly string[]): bigint {
    const table = new Uint8Array((items.length + 1) * 8);
    const view = new DataView(table.buffer);
    items.forEach((item, i) => view.setBigUint64(i * 8, this.cString(item), true));
    return this.buffer(table);
  }
}
