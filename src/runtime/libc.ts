/**
 * The FFI seam: raw system calls through the C library, in runtime-neutral types. Only
 * `bun_libc.ts` and `deno_libc.ts` implement it; `openLibc` loads the one for this runtime.
 */
import type { RuntimeName } from "./runtime.ts";

/** The CPU architectures whose system call numbers are known. */
export type LibcArch = "x86_64" | "aarch64";

/** Raw access to `libc.so.6`; every call runs synchronously on the calling thread. */
export interface Libc {
  readonly arch: LibcArch;
  /** A system call: the kernel's result, `-errno` on failure (`raw_syscall.ts`). */
  syscall(nr: number, ...args: bigint[]): bigint;
  /**
   * Whether `syscall`'s `-errno` is always the kernel's own (the raw call is mapped); otherwise it
   * is libc's errno read after the call, which the engine's own work may have overwritten.
   */
  readonly exactErrno: boolean;
  /** Address of a buffer's first byte; valid while the buffer is referenced. */
  addressOf(buffer: Uint8Array): bigint;
}

/** The architecture of this process as `Libc` names it, or null when unsupported. */
export function libcArch(nodeArch: string): LibcArch | null {
  switch (nodeArch) {
    case "x64":
      return "x86_64";
    case "arm64":
      return "aarch64";
    default:
      return null;
  }
}

/** The Deno FFI module, hidden from `tsc` (which has no Deno types); bundlers fold the name. */
async function importDenoLibc(): Promise<unknown> {
  return await import("./deno_libc" + ".ts");
}

/** Loads the C library through the runtime's FFI; throws on a non-Linux or unknown-architecture host. */
export async function openLibc(name: RuntimeName, nodeArch: string): Promise<Libc> {
  const arch = libcArch(nodeArch);
  if (arch === null) throw new Error(`unsupported architecture ${nodeArch}`);
  switch (name) {
    case "bun": {
      const { openBunLibc } = await import("./bun_libc.ts");
      return await openBunLibc(arch);
    }
    case "deno": {
      const adapter = await importDenoLibc();
      if (typeof adapter === "object" && adapter !== null && "openDenoLibc" in adapter) {
        const open = adapter.openDenoLibc;
        // deno_libc.ts declares `openDenoLibc(arch: LibcArch): Libc`; `deno check` verifies it there.
        if (typeof open === "function") return (open as (arch: LibcArch) => Libc)(arch);
      }
      throw new TypeError("deno_libc.ts does not export openDenoLibc");
    }
    default: {
      const never: never = name;
      throw new TypeError(`unknown runtime ${String(never)}`);
    }
  }
}
