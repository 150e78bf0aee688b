/**
 * Keeps what the server inherited out of its children under Deno.
 *
 * Deno's spawn (Deno.Command and node:child_process alike) passes a child every descriptor that
 * lacks close-on-exec, and whoever started the server may have left some open: a supervisor's
 * pipe, a socket handed down. A child that outlives its session (a daemon started with `&`) would
 * hold them, and a supervisor waiting for end of file on that pipe would wait for ever. Bun's
 * spawn closes them itself. Deno opens its own descriptors close-on-exec, and the server passes
 * nothing to a child beyond stdin, stdout and stderr, so marking every descriptor from 3 up is
 * exact.
 * @module
 */

/** ioctl(fd, FIOCLEX): sets close-on-exec (as deno_pty.ts does for a terminal's master). */
const FIOCLEX = 0x5451;
/** The first descriptor that is not stdin, stdout or stderr. */
const FIRST_INHERITED = 3;

/**
 * Marks every open descriptor from 3 up close-on-exec; returns how many it marked, or null where
 * libc cannot be opened (no `--allow-ffi`): then children inherit what Deno gives them.
 */
export function markInheritedCloseOnExec(): number | null {
  let library: Deno.DynamicLibrary<{ ioctl: { parameters: ["i32", "u64", "u64"]; result: "i32" } }>;
  try {
    library = Deno.dlopen("libc.so.6", { ioctl: { parameters: ["i32", "u64", "u64"], result: "i32" } });
  } catch {
    return null;
  }
  try {
    let marked = 0;
    for (const entry of Deno.readDirSync("/proc/self/fd")) {
      const fd = Number(entry.name);
      if (!Number.isInteger(fd) || fd < FIRST_INHERITED) continue;
      // Fails only for a descriptor closed since it was listed: nothing to mark then.
      if (library.symbols.ioctl(fd, BigInt(FIOCLEX), 0n) === 0) marked++;
    }
    return marked;
  } finally {
    library.close();
  }
}
