/**
 * An unsandboxed `fs/copy` of a file whose inode lock someone else holds (a sandboxed process that
 * writes it, in a root the client copies from) waits for the lock, and only the copy waits: the
 * copy's `lseek(SEEK_DATA / SEEK_HOLE)` takes the lock, and under Bun it ran on the server's only
 * thread, so a sandbox that kept writing the file held every client's requests (red team 16b).
 * And an unlink of that file waits for its lock holding its directory's, and every lookup of a name
 * there not yet in the kernel's cache waits for that: the server's own `fs/getMetadata` of such a
 * path (`root_mount_stat.ts`), made on its only thread on both runtimes, held every client.
 * The fixture holds the lock for as long as the test likes; the copy's thread is seen in `lseek`,
 * the unlink in `unlink`, through /proc before another client asks. Root only (the fixture's
 * userfaultfd).
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
const SYS_UNLINK = "87";
/** The calls a look at a path makes, whichever thread and runtime: openat2, statx, newfstatat, lstat. */
const PATH_LOOKS = ["437", "332", "262", "6"];

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

/** Whether some thread of `pid` is inside a system call numbered as one of `nrs` now. */
async function inCall(pid: number, ...nrs: string[]): Promise<boolean> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  for (const task of tasks) {
    const call = await readFile(`/proc/${pid}/task/${task}/syscall`, "utf8").catch(() => "");
    if (nrs.includes(call.split(" ")[0] ?? "")) return true;
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
      expect(await pollUntil(() => inCall(pid, SYS_LSEEK), (seen) => seen, 20_000)).toBe(true);
      expect(await other.call("fs/getMetadata", { path: dir.path })).toMatchObject({ isDirectory: true });
      expect(copied).toBe(false);
      holder.stdin?.end();
      expect(await copy).toEqual({});
      expect(Buffer.compare(await readFile(join(dir.path, "copy")), Buffer.from(bytes))).toBe(0);
    } finally {
      holder.kill("SIGKILL");
    }
  }, 60_000);

  test("a lookup in its directory while an unlink of it waits leaves another client served", async () => {
    await using server = await startServer({ runtime });
    await using dir = await tempDir();
    const source = join(dir.path, "log");
    await writeFile(source, "x");
    const holder = await holdLock(source);
    const unlink = spawn("python3", ["-c", "import os, sys; os.unlink(sys.argv[1])", source], {
      stdio: "inherit",
    });
    try {
      expect(await pollUntil(() => inCall(unlink.pid ?? 0, SYS_UNLINK), (seen) => seen, 20_000)).toBe(true);
      await using looker = await server.session();
      await using other = await server.session();
      let looked = false;
      // A name never looked up: the kernel has no entry for it, and must ask the directory.
      const look = looker.callError("fs/getMetadata", { path: join(dir.path, "never-seen") })
        .finally(() => looked = true);
      const pid = server.child.pid ?? 0;
      expect(await pollUntil(() => inCall(pid, ...PATH_LOOKS), (seen) => seen, 20_000)).toBe(true);
      expect(await other.call("fs/getMetadata", { path: "/" })).toMatchObject({ isDirectory: true });
      expect(looked).toBe(false);
      holder.stdin?.end();
      expect(await look).toMatchObject({ code: -32004 });
      await once(unlink, "exit");
    } finally {
      holder.kill("SIGKILL");
      unlink.kill("SIGKILL");
    }
  }, 60_000);
});
