/**
 * The raw system call of `src/runtime/raw_syscall.ts`: its bytes are its source assembled, and
 * through it a failed call reports the kernel's -errno itself under both runtimes, where libc's
 * errno could be overwritten by the engine before it was read.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { hexBytes, RAW_SYSCALL_X86_64 } from "../../src/runtime/raw_syscall.ts";
import { assembledText } from "../helpers/assembler.ts";
import { RUNTIMES, serverCommand } from "../helpers/server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const X64 = process.arch === "x64" && process.platform === "linux";
const FIXTURE = join(ROOT, "test", "fixtures", "libc_fixture.ts");
const ENOENT = 2;
const EBADF = 9;

describe.skipIf(!X64)("raw system call", () => {
  test("its bytes are raw_syscall_x86_64.s assembled", async () => {
    const assembled = await assembledText(join(ROOT, "src", "runtime", "raw_syscall_x86_64.s"));
    if (assembled !== null) expect(Buffer.from(hexBytes(RAW_SYSCALL_X86_64)).equals(assembled)).toBe(true);
  });

  test.each(RUNTIMES)("under %s a failed call returns its own -errno, through the mapped code", (runtime) => {
    const [command = "", ...args] = runtime === "bun"
      ? [serverCommand(runtime)[0] ?? "", FIXTURE]
      : [serverCommand(runtime)[0] ?? "", "run", "-A", "--quiet", FIXTURE];
    const run = spawnSync(command, args, { encoding: "utf8", cwd: ROOT });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      pid: true,
      results: [String(-ENOENT), String(-EBADF)],
      mapped: true,
    });
  });
});
