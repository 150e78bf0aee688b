/**
 * The start time that names a sandboxed child's launch (`sandboxMountSource`) must be read even when
 * the child has already exited: a sandboxed `sh -c '(setsid daemon &)'` is a zombie by the time a
 * loaded server reads it, and a launch left unnamed is one whose daemons its session cannot find.
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { childStartTime } from "../../src/containment/descendants.ts";
import { pollUntil } from "../helpers/proc.ts";

/** The state letter of `/proc/<pid>/stat`, or null when the process is gone. */
async function stateOf(pid: number): Promise<string | null> {
  const text = await readFile(`/proc/${pid}/stat`, "latin1").catch(() => null);
  return text === null ? null : text.slice(text.lastIndexOf(")") + 2).split(" ")[0] ?? null;
}

describe("childStartTime", () => {
  test("reads the start time of a child that has exited and is not reaped yet", async () => {
    // `exec sleep` keeps the shell's number and never reaps the background child the shell left.
    const parent = spawn("sh", ["-c", "sleep 0.01 & exec sleep 30"], { stdio: "ignore" });
    try {
      const pid = parent.pid ?? 0;
      const children = await pollUntil(
        () => readFile(`/proc/${pid}/task/${pid}/children`, "latin1").catch(() => ""),
        (text) => text.trim() !== "",
        10_000,
      );
      const zombie = Number(children.trim().split(" ")[0]);
      expect(await pollUntil(() => stateOf(zombie), (state) => state === "Z", 10_000)).toBe("Z");
      expect(childStartTime(zombie)).toMatch(/^\d+$/);
    } finally {
      parent.kill("SIGKILL");
    }
  });

  test("reads nothing of a process that is gone", async () => {
    const numbers = new Set((await readdir("/proc")).filter((name) => /^\d+$/.test(name)).map(Number));
    let unused = 4_000_000;
    while (numbers.has(unused)) unused--;
    expect(childStartTime(unused)).toBeNull();
  });
});
