/**
 * Machine code the project carries as bytes is checked against its source, assembled again where
 * GNU as and objcopy exist (`.ci/run` installs binutils); a machine without them opts out by name
 * (EXEC_SERVER_SKIP_ASSEMBLER=1), never silently.
 */
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "bun:test";
import { tempDir } from "./temp_dir.ts";

const HAS_AS = spawnSync("as", ["--version"]).status === 0 &&
  spawnSync("objcopy", ["--version"]).status === 0;

/** The .text section of x86-64 `source` assembled, or null where the machine opted out. */
export async function assembledText(source: string): Promise<Buffer | null> {
  if (!HAS_AS && process.env["EXEC_SERVER_SKIP_ASSEMBLER"] === "1") return null;
  expect(HAS_AS ? "GNU as and objcopy found" : "install binutils or set EXEC_SERVER_SKIP_ASSEMBLER=1")
    .toBe("GNU as and objcopy found");
  await using dir = await tempDir();
  const object = join(dir.path, "code.o");
  const code = join(dir.path, "code.bin");
  expect(spawnSync("as", ["--64", "-o", object, source]).status).toBe(0);
  expect(spawnSync("objcopy", ["-O", "binary", "--only-section=.text", object, code]).status).toBe(0);
  return await readFile(code);
}
