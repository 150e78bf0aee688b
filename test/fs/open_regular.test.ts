import { expect, test } from "bun:test";
import { constants } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openRegular } from "../../src/fs/open_regular.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** The open flags of one of this process's descriptors, as the kernel reports them. */
async function openFlags(fd: number): Promise<number> {
  const info = await readFile(`/proc/self/fdinfo/${fd}`, "utf8");
  return Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(info)?.[1] ?? "0", 8);
}

// A regular file may still block its reader (/proc/kmsg as root waits for the next kernel message):
// opened non-blocking it answers EAGAIN instead, as the reference's open does, and never holds a
// request and a runtime thread for as long as nothing comes.
test("openRegular opens a regular file non-blocking, for reading and for writing", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "file.txt");
  await writeFile(path, "content");
  const flags: number[] = [];
  for (const mode of [constants.O_RDONLY, constants.O_WRONLY | constants.O_TRUNC]) {
    const handle = await openRegular(path, mode);
    try {
      flags.push(await openFlags(handle.fd) & constants.O_NONBLOCK);
    } finally {
      await handle.close();
    }
  }
  expect(flags).toEqual([constants.O_NONBLOCK, constants.O_NONBLOCK]);
});
