import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import type { Runtime, SpawnPlan } from "../../src/runtime/runtime.ts";
import { detectHostFeatures, type HostFeatures, sandboxExtensionInfo } from "../../src/sandbox/mod.ts";

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
});
