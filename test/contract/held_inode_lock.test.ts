/**
 * An unsandboxed `fs/copy` of a file whose inode lock someone else holds (a sandboxed process that
 * writes it, in a root the client copies from) waits for the lock, and only the copy waits: the
 * copy's `lseek(SEEK_DATA / SEEK_HOLE)` takes the lock, and under Bun it ran on the server's only
 * thread, so a sandbox that kept writing the file held every client's requests (red team 16b).
 * The fixture holds the lock for as long as the test likes; the copy's thread is seen in `lseek`
 * through /proc before another client asks. Root only (the fixture's userfaultfd).
 */
import { describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pollUntil } from "../helpers/proc.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const FIXTURE = join(import.meta.dir, "../fixtures/inode_lock_fixture.py");
const IS_ROOT = process.getuid?.() === 0 && process.arch === "x64";
const SYS_LSEEK = "8";

/** Starts the fixture on `path` and resolves once it holds the file's lock. */
async function holdLock(path: string): Promise<ChildProcess> {
  const holder = spawn("python3", [FIXTURE, path], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  holder.stdout?.setEncoding("utf8");
  holder.stdout?.on("data", (chunk: string) => out += chunk);
  while (!out.includes("held\n")) {
    const [chunk] = await Promise.race([once(holder.stdout!, "data"), once(holder, "exit")]);
    if (chunk === undefined || typeof chunk === "number") throw new Error(`lock fixture ended: ${out}`);
  }
  return holder;
}

/** Whether some thread of `pid` is inside `lseek` now. */
async function inLseek(pid: number): Promise<boolean> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  for (const task of tasks) {
    const call = await readFile(`/proc/${pid}/task/${task}/syscall`, "utf8").catch(() => "");
    if (call.split(" ")[0] === SYS_LSEEK) return true;
  }
  return false;
}

describe.skipIf(!IS_ROOT).each(RUNTIMES)("a file whose inode lock is held, on %s", (runtime) => {
  test("an fs/copy of it waits for the lock, and another client is served meanwhile", async () => {
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    const source = join(dir.path, "log");
    // Large enough that the copy looks for its runs of data (copy_contents.ts), with a hole.
    const bytes = new Uint8Array(3 << 20).fill(7);
    bytes.fill(0, 1 << 20, 2 << 20);
    await writeFile(source, bytes);
    const holder = await holdLock(source);
    try {
      await using copier = await server.session();
      await using other = await server.session();
      let copied = false;
      const copy = copier.call("fs/copy", {
        sourcePath: source,
        destinationPath: join(dir.path, "copy"),
        recursive: false,
      }).finally(() => copied = true);
      const pid = server.child.pid ?? 0;
      expect(await pollUntil(() => inLseek(pid), (seen) => seen, 20_000)).toBe(true);
      expect(await other.call("fs/getMetadata", { path: dir.path })).toMatchObject({ isDirectory: true });
      expect(copied).toBe(false);
      holder.stdin?.end();
      expect(await copy).toEqual({});
      expect(Buffer.compare(await readFile(join(dir.path, "copy")), Buffer.from(bytes))).toBe(0);
    } finally {
      holder.kill("SIGKILL");
    }
  }, 60_000);
});
