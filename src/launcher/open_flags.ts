/**
 * `open(2)` flag values, which differ between architectures.
 */
import type { LibcArch } from "../runtime/mod.ts";

/** The open flags the launcher uses. */
export interface OpenFlags {
  readonly O_RDONLY: bigint;
  readonly O_WRONLY: bigint;
  readonly O_CREAT: bigint;
  readonly O_EXCL: bigint;
  readonly O_PATH: bigint;
  readonly O_CLOEXEC: bigint;
  readonly O_DIRECTORY: bigint;
  readonly O_NOFOLLOW: bigint;
}

const COMMON = {
  O_RDONLY: 0n,
  O_WRONLY: 1n,
  O_CREAT: 0o100n,
  O_EXCL: 0o200n,
  O_PATH: 0o10000000n,
  O_CLOEXEC: 0o2000000n,
};

/** Open flags of an architecture. */
export function openFlags(arch: LibcArch): OpenFlags {
  switch (arch) {
    case "x86_64":
      return { ...COMMON, O_DIRECTORY: 0o200000n, O_NOFOLLOW: 0o400000n };
    case "aarch64":
      return { ...COMMON, O_DIRECTORY: 0o40000n, O_NOFOLLOW: 0o100000n };
    default: {
      const never: never = arch;
      throw new TypeError(`unknown architecture ${String(never)}`);
    }
  }
}
