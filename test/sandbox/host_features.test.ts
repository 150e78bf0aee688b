import { describe, expect, test } from "bun:test";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Runtime, SpawnPlan } from "../../src/runtime/runtime.ts";
import { detectHostFeatures, type HostFeatures, sandboxExtensionInfo } from "../../src/sandbox/mod.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const FIXTURE = join(resolve(import.meta.dir, "../.."), "test/fixtures/sandbox_exec_fixture.ts");

/** Just enough of a Runtime for the probe: spawn, env and cwd. */
function probeRuntime(): Runtime {
  const partial = {
    name: "bun",
    env: () => ({ PATH: process.env["PATH"] ?? "" }),
    cwd: () => process.cwd(),
    spawn: (plan: SpawnPlan) => {
      const child = Bun.spawn([plan.program, ...plan.args], {
        cwd: plan.cwd,
        stdout: "pipe",
        stderr: "pipe",
      });
      return Promise.resolve({
        pid: child.pid,
        stdout: child.stdout,
        stderr: child.stderr,
        stdin: null,
        exited: child.exited.then((code) => ({ code, signal: null })),
      });
    },
  };
  // The probe uses only spawn, env and cwd; the other members are never reached.
  return partial as unknown as Runtime;
}

describe("host features", () => {
  test("detectHostFeatures finds every layer on this host", async () => {
    const features = await detectHostFeatures(probeRuntime(), {
      command: [process.execPath, FIXTURE, "sandbox-exec", "--probe"],
    });
    expect(Object.isFrozen(features)).toBe(true);
    expect(features).toMatchObject({
      mountNamespace: true,
      ipcNamespace: true,
      seccomp: true,
      noNewPrivs: true,
      probeError: null,
    });
    expect(features.landlockAbi).toBeGreaterThanOrEqual(6);
  });

  test("detectHostFeatures reports a non-Linux platform", async () => {
    const features = await detectHostFeatures(probeRuntime(), { command: ["/nope"], platform: "darwin" });
    expect(features.probeError).toBe("darwin has no Linux sandbox");
    expect(sandboxExtensionInfo(features)).toMatchObject({ available: false, backend: "none" });
  });

  test("sandboxExtensionInfo reports the native backend and its layers", () => {
    const features: HostFeatures = {
      landlockAbi: 7,
      userNamespace: false,
      mountNamespace: true,
      ipcNamespace: true,
      seccomp: true,
      noNewPrivs: true,
      bubblewrap: null,
      userNamespaceHelper: null,
      probeError: null,
    };
    expect(sandboxExtensionInfo(features)).toEqual({
      available: true,
      backend: "native",
      layers: {
        userNamespace: false,
        mountNamespace: true,
        ipcNamespace: true,
        seccomp: true,
        landlockAbi: 7,
        noNewPrivs: true,
        bubblewrap: false,
      },
      networkRestriction: true,
      privilege: "root",
    });
    expect(sandboxExtensionInfo({ ...features, userNamespaceHelper: ["/usr/bin/unshare"] })).toMatchObject({
      available: true,
      privilege: "userNamespace",
    });
    expect(sandboxExtensionInfo({ ...features, landlockAbi: 5 })).toMatchObject({
      available: false,
      reason: "landlock ABI 5 cannot scope signals and abstract unix sockets (needs 6, Linux 6.12)",
    });
    expect(sandboxExtensionInfo({ ...features, landlockAbi: 0 })).toMatchObject({
      available: false,
      backend: "none",
      reason: "landlock unavailable",
    });
  });

  describe("the report kept per probe context", () => {
    const REPORT = {
      landlockAbi: 7,
      userNamespace: false,
      mountNamespace: true,
      ipcNamespace: true,
      seccomp: true,
      noNewPrivs: true,
    };

    /** A probe that prints `report` (or fails) and counts its runs in `runs`. */
    async function countingProbe(dir: string, output: string, status = 0): Promise<string[]> {
      const script = join(dir, "probe.sh");
      await writeFile(script, `echo run >> ${join(dir, "runs")}\nprintf '%s' '${output}'\nexit ${status}\n`);
      return ["/bin/sh", script];
    }

    async function runsOf(dir: string): Promise<number> {
      return (await readFile(join(dir, "runs"), "utf8").catch(() => "")).split("\n").length - 1;
    }

    test("the next detection in the same context reads it instead of probing", async () => {
      await using dir = await tempDir();
      const command = await countingProbe(dir.path, JSON.stringify(REPORT));
      const options = { command, reportCache: dir.path, root: true };
      const first = await detectHostFeatures(probeRuntime(), options);
      const second = await detectHostFeatures(probeRuntime(), options);
      expect({ first, second, runs: await runsOf(dir.path) }).toEqual({
        first: { ...REPORT, bubblewrap: first.bubblewrap, userNamespaceHelper: null, probeError: null },
        second: first,
        runs: 1,
      });
    });

    test("a report kept for another probe command, or a damaged one, is not read", async () => {
      await using dir = await tempDir();
      const command = await countingProbe(dir.path, JSON.stringify(REPORT));
      await detectHostFeatures(probeRuntime(), { command, reportCache: dir.path, root: true });
      const [kept] = (await readdir(dir.path)).filter((name) => name.startsWith("probe-"));
      await writeFile(join(dir.path, kept ?? ""), JSON.stringify({ ...REPORT, landlockAbi: "7" }));
      const damaged = await detectHostFeatures(probeRuntime(), {
        command,
        reportCache: dir.path,
        root: true,
      });
      const other = await detectHostFeatures(probeRuntime(), {
        command: [...command, "--other"],
        reportCache: dir.path,
        root: true,
      });
      expect({ damaged: damaged.landlockAbi, other: other.landlockAbi, runs: await runsOf(dir.path) })
        .toEqual({
          damaged: 7,
          other: 7,
          runs: 3,
        });
      expect(JSON.parse(await readFile(join(dir.path, kept ?? ""), "utf8"))).toEqual(REPORT);
    });

    test("a failed probe is not kept, and the Landlock ceiling applies to a kept report", async () => {
      await using dir = await tempDir();
      const failing = await countingProbe(dir.path, "", 1);
      const failed = await detectHostFeatures(probeRuntime(), {
        command: failing,
        reportCache: dir.path,
        root: true,
      });
      expect(failed.probeError).toStartWith("sandbox probe failed");
      expect((await readdir(dir.path)).filter((name) => name.startsWith("probe-"))).toEqual([]);
      const command = await countingProbe(dir.path, JSON.stringify(REPORT));
      await detectHostFeatures(probeRuntime(), { command, reportCache: dir.path, root: true });
      const lowered = await detectHostFeatures(probeRuntime(), {
        command,
        reportCache: dir.path,
        root: true,
        landlockAbiCeiling: 5,
      });
      expect({ abi: lowered.landlockAbi, runs: await runsOf(dir.path) }).toEqual({ abi: 5, runs: 2 });
    });
  });
});
