/**
 * The synchronous `lstat` of `src/runtime/root_mount_stat.ts`: under both runtimes it answers for
 * files and directories on the root mount exactly as the runtime's own `lstat`, names a missing path
 * and one below a file as that `lstat` does, and leaves every path it must not or cannot answer (a
 * symlink, another failure, another mount, a relative path) to the caller's asynchronous path.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { factsOf, openRootMountStat } from "../../src/runtime/root_mount_stat.ts";
import { RUNTIMES, serverCommand } from "../helpers/server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const FIXTURE = join(ROOT, "test", "fixtures", "root_mount_stat_fixture.ts");
const LINUX = process.platform === "linux";

interface Answer {
  readonly path: string;
  readonly facts: unknown;
  readonly node: { birthtimeMs: number; mtimeMs: number } | null;
  readonly nodeError: string | null;
  readonly program: unknown;
  readonly followed: { dev: number; ino: number; size: number } | null;
}

/** Whether this host's root mount lets the stat open at all (a local file system, openat2). */
const available = LINUX && (await openRootMountStat("bun", process.arch)) !== null;

function runFixture(
  runtime: (typeof RUNTIMES)[number],
  paths: string[],
): { opened: boolean; answers: Answer[] } {
  const [command = "", ...args] = runtime === "bun"
    ? [serverCommand(runtime)[0] ?? "", FIXTURE, JSON.stringify(paths)]
    : [serverCommand(runtime)[0] ?? "", "run", "-A", "--quiet", FIXTURE, JSON.stringify(paths)];
  const run = spawnSync(command, args, {
    encoding: "utf8",
    cwd: ROOT,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
  });
  expect(run.stderr).toBe("");
  return JSON.parse(run.stdout) as { opened: boolean; answers: Answer[] };
}

describe.skipIf(!available)("root mount stat", () => {
  test.each(RUNTIMES)(
    "under %s answers a file and a directory as the runtime's lstat, a missing path by its errno",
    (runtime) => {
      const dir = mkdtempSync("/tmp/root-mount-stat-");
      try {
        writeFileSync(join(dir, "f"), "12345");
        mkdirSync(join(dir, "d"));
        // The last 244 ns of a second: Bun's own lstat rounds up to the next millisecond there.
        expect(spawnSync("touch", ["-m", "-d", "@1700000000.999999999", join(dir, "f")]).status).toBe(0);
        symlinkSync("f", join(dir, "l"));
        symlinkSync("missing", join(dir, "dangling"));
        const answered = [join(dir, "f"), join(dir, "d"), dir];
        // x86-64 maps the exact system call that tells ENOENT from a failure it must leave.
        const exact = process.arch === "x64";
        const named = [
          join(dir, "missing"),
          join(dir, "missing", "below"),
          join(dir, "dangling", "below"),
          join(dir, "f", "below-a-file"),
          `${join(dir, "f")}/`,
        ];
        const left = [
          join(dir, "l"),
          join(dir, "dangling"),
          "/proc/self",
          "/proc/no-such-entry",
          "relative/path",
          `${dir}/f\0tail`,
        ];
        const result = runFixture(runtime, [...answered, ...named, ...left]);
        expect(result.opened).toBe(true);
        for (const answer of result.answers.slice(0, answered.length)) {
          const node = answer.node;
          expect(node).not.toBeNull();
          expect(answer.facts).toEqual({
            ...node,
            birthtimeMs: Math.trunc(node?.birthtimeMs ?? -1),
            mtimeMs: Math.trunc(node?.mtimeMs ?? -1),
          });
        }
        const namedAnswers = result.answers.slice(answered.length, answered.length + named.length);
        expect(namedAnswers.map((answer) => answer.nodeError)).toEqual([
          "ENOENT",
          "ENOENT",
          "ENOENT",
          "ENOTDIR",
          "ENOTDIR",
        ]);
        const namedFacts = namedAnswers.map((answer) => answer.facts);
        const expected = namedAnswers.map((answer) => exact ? answer.nodeError : null);
        // A walk through a file's name may need more than the kernel's cache to fail (RESOLVE_CACHED):
        // then it is left to the asynchronous path, as any walk the cache cannot finish.
        const belowFile = named.indexOf(join(dir, "f", "below-a-file"));
        if (namedFacts[belowFile] === null) expected[belowFile] = null;
        expect(namedFacts).toEqual(expected);
        expect(result.answers.slice(answered.length + named.length).map((answer) => answer.facts)).toEqual(
          left.map(() => null),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe.skipIf(!available)("root mount program check", () => {
  test.each(RUNTIMES)(
    "under %s finds an executable file, through a symlink too, and names a missing one",
    (runtime) => {
      const dir = mkdtempSync("/tmp/root-mount-program-");
      try {
        writeFileSync(join(dir, "x"), "#!/bin/sh\n", { mode: 0o755 });
        writeFileSync(join(dir, "f"), "not executable", { mode: 0o644 });
        symlinkSync("x", join(dir, "l"));
        symlinkSync("missing", join(dir, "dangling"));
        const found = [join(dir, "x"), join(dir, "l"), "/bin/sh"];
        // x86-64 maps the exact system call that tells ENOENT from a failure it must leave.
        const exact = process.arch === "x64";
        const named: [string, string][] = [
          [join(dir, "missing"), "ENOENT"],
          [join(dir, "dangling"), "ENOENT"],
          [join(dir, "f", "below-a-file"), "ENOTDIR"],
        ];
        const left = [join(dir, "f"), dir, "/proc/self/exe", "relative/path", `${dir}/x\0tail`];
        const paths = [...found, ...named.map(([path]) => path), ...left];
        const result = runFixture(runtime, paths);
        expect(result.opened).toBe(true);
        for (const answer of result.answers.slice(0, found.length)) {
          expect(answer.followed).not.toBeNull();
          expect(answer.program).toMatchObject(answer.followed ?? {});
        }
        const after = result.answers.slice(found.length).map((answer) => answer.program);
        // Below a file the walk may be left to the asynchronous search (RESOLVE_CACHED, above).
        const belowFile = named.length - 1;
        const allowed = after[belowFile] === null ? null : "ENOTDIR";
        expect(after).toEqual([
          ...named.map(([, errno], i) => exact ? (i === belowFile ? allowed : errno) : null),
          ...left.map(() => null),
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe("statx facts", () => {
  /** A `struct statx` with `mask`, `mode`, a size of 7 and both times at `seconds`.`nanoseconds`. */
  function statx(mask: number, mode: number, seconds: bigint, nanoseconds: number): DataView {
    const view = new DataView(new ArrayBuffer(256));
    view.setUint32(0, mask, true);
    view.setUint16(28, mode, true);
    view.setBigUint64(40, 7n, true);
    for (const offset of [80, 112]) {
      view.setBigInt64(offset, seconds, true);
      view.setUint32(offset + 8, nanoseconds, true);
    }
    return view;
  }
  const ALL = 0x1 | 0x40 | 0x200 | 0x800;

  test("a regular file, in whole milliseconds, truncated or as Bun's floating point makes them", () => {
    const view = statx(ALL, 0o100644, 1_700_000_000n, 999_999_999);
    expect(factsOf(view, false)).toEqual({
      isDirectory: false,
      isFile: true,
      size: 7,
      birthtimeMs: 1_700_000_000_999,
      mtimeMs: 1_700_000_000_999,
    });
    expect(factsOf(view, true)?.mtimeMs).toBe(1_700_000_001_000);
  });

  test("leaves a symlink, a missing member and a time before 1970 to the caller", () => {
    expect(factsOf(statx(ALL, 0o120777, 1n, 0), false)).toBeNull();
    expect(factsOf(statx(ALL & ~0x800, 0o100644, 1n, 0), false)).toBeNull();
    expect(factsOf(statx(ALL, 0o040755, -1n, 0), false)).toBeNull();
    expect(factsOf(statx(ALL, 0o040755, 0n, 0), false)?.isDirectory).toBe(true);
  });
});
