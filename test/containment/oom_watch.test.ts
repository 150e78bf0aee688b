import { expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OomWatch } from "../../src/containment/oom_watch.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** Writes a v1 `memory.oom_control` that records `kills` OOM kills. */
async function oomControl(dir: string, kills: number): Promise<void> {
  await writeFile(join(dir, "memory.oom_control"), `oom_kill_disable 0\nunder_oom 0\noom_kill ${kills}\n`);
}

// More cgroups than a tick reads: the one whose process the kernel killed is still seen, its
// neighbours are not taken for it, and a cgroup no longer watched is not read.
test("the OOM watch sees a kill in each of more cgroups than it reads a tick, and only there", async () => {
  await using dir = await tempDir();
  const watch = new OomWatch();
  const killed: number[] = [];
  const stops: Array<() => void> = [];
  for (let index = 0; index < 80; index++) {
    const memory = join(dir.path, `p${index}`);
    await mkdir(memory);
    await oomControl(memory, 0);
    stops.push(watch.watch(memory, () => killed.push(index)));
  }
  stops[5]?.();
  await oomControl(join(dir.path, "p5"), 1);
  await oomControl(join(dir.path, "p3"), 1);
  await oomControl(join(dir.path, "p79"), 2);
  const seen = Promise.withResolvers<void>();
  const poll = setInterval(() => {
    if (killed.length >= 2) seen.resolve();
  }, 10);
  await seen.promise;
  clearInterval(poll);
  expect(killed.sort((a, b) => a - b)).toEqual([3, 79]);
  expect(watch.size).toBe(77);
  for (const stop of stops) stop();
  expect(watch.size).toBe(0);
});
