/**
 * Waiting for a cgroup to empty when the kernel refuses the watch on its `cgroup.events`: the
 * cgroup is gone (another server's start-up sweep removed it), or the watch is refused with
 * EMFILE (any process of the server's uid can take every inotify instance the uid may have; here
 * a user namespace that allows none stands in for it). Bun throws the refusal from `fs.watch`;
 * Deno reports it later as an "error" event, which, unheard, ends the process.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { RUNTIMES, serverCommand } from "../helpers/server.ts";
import type { RuntimeName } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const ROOT = join(import.meta.dir, "..", "..");
const FIXTURE = join(ROOT, "test", "fixtures", "until_empty_fixture.ts");
/** Runs the rest of its argv in a user namespace whose processes may open no inotify instance. */
const NO_INOTIFY = [
  "unshare",
  "--user",
  "--map-root-user",
  "sh",
  "-c",
  'echo 0 > /proc/sys/user/max_inotify_instances && exec "$@"',
  "sh",
];

function runFixture(runtime: RuntimeName, args: string[], prefix: string[] = []): unknown {
  // The server's command line without mod.ts: the runtime and its flags.
  const runtimeArgv = serverCommand(runtime).slice(0, -1);
  const [program = "", ...rest] = [...prefix, ...runtimeArgv, FIXTURE, ...args];
  const result = spawnSync(program, rest, { cwd: ROOT, encoding: "utf8", timeout: 25_000 });
  if (result.status !== 0) throw new Error(`fixture exited ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

describe.each(RUNTIMES)("untilEmpty on %s", (runtime) => {
  test("returns for a cgroup that is gone, and the process lives on", async () => {
    await using dir = await tempDir();
    expect(runFixture(runtime, ["gone", join(dir.path, "removed")])).toEqual({ returned: true });
  });

  test("with the watch refused, waits until the cgroup is empty by looking again", async () => {
    await using dir = await tempDir();
    expect(runFixture(runtime, ["populated", dir.path], NO_INOTIFY)).toEqual({
      returned: true,
      returnedWhilePopulated: false,
    });
  });
});
