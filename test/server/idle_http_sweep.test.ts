import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { RUNTIMES, serverCommand } from "../helpers/server.ts";

const FIXTURE = join(import.meta.dir, "..", "fixtures", "idle_sweep_fixture.ts");

describe.each(RUNTIMES)("IdleHttpSweep on %s", (runtime) => {
  test("a pass ends the idle connections while the process has no descriptor to spare", () => {
    // serverCommand's last element is the server's entry; the fixture takes its place.
    const command = [...serverCommand(runtime).slice(0, -1), FIXTURE];
    const run = spawnSync("prlimit", ["--nofile=96", ...command], { encoding: "utf8", timeout: 20_000 });
    expect(run.stderr).toBe("");
    const result = JSON.parse(run.stdout.trim()) as { ended: number; held: number; peers: number };
    expect(result.held).toBeGreaterThan(0);
    expect(result.ended).toBe(result.peers);
  });
});
