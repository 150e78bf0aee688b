/**
 * The process planner's launches against the link check of `WrittenAreas`, through the launcher
 * fixture under Bun and Deno.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type HostFeatures, processPlanner, WrittenAreas } from "../../src/sandbox/mod.ts";
import { fullHostFeatures } from "../helpers/host_features.ts";
import { fixtureLaunchContext } from "../helpers/launch_context.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";

const REPO = resolve(import.meta.dir, "../..");
const FIXTURE = join(REPO, "test/fixtures/sandbox_exec_fixture.ts");

const FEATURES: HostFeatures = fullHostFeatures();

describe.each(["bun", "deno"] as const)("the process planner on %s", (runtime) => {
  let root = "";
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), `process-planner-${runtime}-`));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test("a start planned before another policy first made an area writable meets the link check there", async () => {
    // Two starts the client makes at once: B's root lies in `w`, and A is the first policy that may
    // write `w`. B's plan finished before A recorded `w`; A's sandbox then planted a link where B's
    // root is, before B was launched.
    const w = join(root, "w");
    const outside = join(root, "outside");
    await mkdir(join(w, "proj"), { recursive: true });
    await mkdir(outside);
    await writeFile(join(outside, "secret.txt"), "top secret\n");
    const planner = processPlanner({
      features: FEATURES,
      serverEnv: { PATH: "/usr/bin:/bin" },
      protection: { writtenAreas: new WrittenAreas() },
      launchContext: () =>
        Promise.resolve(fixtureLaunchContext(runtime, { launcher: FIXTURE, worker: FIXTURE })),
    });
    const wrapB = await planner.plan(managedSandbox({ write: [join(w, "proj")] }), {
      cwd: "/",
      networkOff: false,
    });
    expect(await planner.plan(managedSandbox({ write: [w] }), { cwd: w, networkOff: false })).not.toBeNull();
    await rename(join(w, "proj"), join(w, "proj.orig"));
    await symlink("../outside", join(w, "proj"));
    const launch = wrapB?.({
      program: "/bin/cat",
      args: [join(w, "proj/secret.txt")],
      argv0: "cat",
      cwd: "/",
      env: { PATH: "/usr/bin:/bin" },
    });
    if (launch === undefined) throw new Error("expected a sandboxed launch");
    const child = Bun.spawn([launch.program, ...launch.args], {
      cwd: launch.cwd,
      env: launch.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    expect(out).not.toContain("top secret");
    expect({ code, err }).toEqual({
      code: 121,
      err: expect.stringContaining(`passes through the symbolic link ${join(w, "proj")}, inside ${w}`),
    });
  });
});
