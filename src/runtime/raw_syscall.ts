/**
 * A system call whose result is the kernel's own: -errno on failure, errno left alone.
 *
 * libc's `syscall()` turns a failure into -1 and sets errno, and the FFI reads errno in a second
 * call once the first has returned to JavaScript. In between, the engine may run work of its own
 * on the same thread (a collection, installing a compiled function), and a futex or madvise of
 * that work that fails overwrites errno: under load a Deno launcher reported a missing program as
 * errno 11 (EAGAIN) and exited 126 instead of 127, and under Bun a collection turned an EEXIST of
 * mkdirat into ENOENT (`mount_namespace.ts`). These 26 bytes do what `syscall()` does without the
 * conversion. They are mapped from a memfd, read and execute only: never writable and executable
 * at once. x86-64 only, like the join helper; elsewhere, or where the mapping is refused, the
 * runtimes keep libc's `syscall()` and errno.
 * @module
 */

/** The machine code of `raw_syscall_x86_64.s` (its .text section), in hex. */
export const RAW_SYSCALL_X86_64 = "4889f84889f74889d64889ca4d89c24d89c84c8b4c24080f05c3";

/** The seven arguments of `syscall()` and of the raw call: the number, then six, missing ones 0. */
export function syscallArgs(
  nr: number,
  args: readonly bigint[],
): [bigint, bigint, bigint, bigint, bigint, bigint, bigint] {
  return [
    BigInt(nr),
    args[0] ?? 0n,
    args[1] ?? 0n,
    args[2] ?? 0n,
    args[3] ?? 0n,
    args[4] ?? 0n,
    args[5] ?? 0n,
  ];
}

/** The bytes of a hex string. */
export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/** The calls `mapCode` makes, x86-64 numbering. */
const X86_64 = { write: 1, mmap: 9, close: 3, memfdCreate: 319 } as const;
const MFD_CLOEXEC = 1n;
const PROT_READ_EXEC = 5n;
const MAP_PRIVATE = 2n;

/** What `mapCode` needs of the FFI: libc's `syscall()` (-1 on failure is all it looks at). */
export interface CodeMapper {
  syscall(nr: number, ...args: bigint[]): bigint;
  addressOf(buffer: Uint8Array): bigint;
}

/**
 * Maps `code` read-and-execute through a memfd and returns its address, or null when any step
 * is refused (no memfd_create, `vm.memfd_noexec`, a seccomp filter). The mapping stays for the
 * life of the process.
 */
export function mapCode(code: Uint8Array, ffi: CodeMapper): bigint | null {
  const name = new TextEncoder().encode("exec-server-raw-syscall\0");
  const fd = ffi.syscall(X86_64.memfdCreate, ffi.addressOf(name), MFD_CLOEXEC);
  if (fd < 0n) return null;
  try {
    const length = BigInt(code.byteLength);
    if (ffi.syscall(X86_64.write, fd, ffi.addressOf(code), length) !== length) return null;
    const address = ffi.syscall(X86_64.mmap, 0n, length, PROT_READ_EXEC, MAP_PRIVATE, fd, 0n);
    return address === -1n ? null : address;
  } finally {
    ffi.syscall(X86_64.close, fd);
  }
}
