/**
 * The raw system call of `src/runtime/raw_syscall.ts`: its bytes are its source assembled, and
 * through it a failed call reports the kernel's -errno itself under both runtimes, where libc's
 * errno could be overwritten by the engine before it was read.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { hexBytes, RAW_SYSCALL_X86_64 } from "../../src/runtime/raw_syscall.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { RUNTIMES, serverCommand } from "../helpers/server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const X64 = process.arch === "x64" && process.platform === "linux";
const HAS_AS = spawnSync("as", ["--version"]).status === 0 &&
  spawnSync("objcopy", ["--version"]).status === 0;
const FIXTURE = join(ROOT, "test", "fixtures", "libc_fixture.ts");
const ENOENT = 2;
const EBADF = 9;

describe.skipIf(!X64)("raw system call", () => {
  test("its bytes are raw_syscall_x86_64.s assembled", async () => {
    // As the join helper's: checked wherever GNU as exists; a machine without it opts out by name.
    if (!HAS_AS && process.env["EXEC_SERVER_SKIP_ASSEMBLER"] === "1") return;
    expect(HAS_AS ? "GNU as and objcopy found" : "install binutils or set EXEC_SERVER_SKIP_ASSEMBLER=1")
      .toBe("GNU as and objcopy found");
    await using dir = await tempDir();
    const object = join(dir.path, "raw.o");
    const code = join(dir.path, "raw.bin");
    const source = join(ROOT, "src", "runtime", "raw_syscall_x86_64.s");
    expect(spawnSync("as", ["--64", "-o", object, source]).status).toBe(0);
    expect(spawnSync("objcopy", ["-O", "binary", "--only-section=.text", object, code]).status).toBe(0);
    expect(Buffer.from(hexBytes(RAW_SYSCALL_X86_64)).equals(await readFile(code))).toBe(true);
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
