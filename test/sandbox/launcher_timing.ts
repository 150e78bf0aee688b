/**
 * Measures a sandboxed `/bin/true` through the launcher under Bun and Deno, with and without the
 * mount-namespace and seccomp layers: `bun test/sandbox/launcher_timing.ts [runs]`. Prints medians.
 */
import { join, resolve } from "node:path";
import { formatLauncherArgs } from "../../src/launcher/mod.ts";
import type { OptionalLayer } from "../../src/launcher/mod.ts";
import { MINIMAL_PATHS } from "../../src/sandbox/mod.ts";

const REPO = resolve(import.meta.dir, "../..");
const FIXTURE = join(REPO, "test/fixtures/sandbox_exec_fixture.ts");
const RUNS = Number(process.argv[2] ?? "21");
const RUNTIMES = {
  bun: [process.execPath, FIXTURE],
  deno: [join(REPO, "node_modules/.bin/deno"), "run", "-A", FIXTURE],
};
const VARIANTS: [string, OptionalLayer[]][] = [
  ["all layers", []],
  ["without seccomp", ["seccomp"]],
  ["without mount-ns", ["mount-ns"]],
  ["landlock only", ["mount-ns", "seccomp"]],
];

async function timeOnce(argv: string[]): Promise<number> {
  const start = performance.now();
  const child = Bun.spawn(argv, { cwd: "/tmp", stdout: "ignore", stderr: "inherit" });
  const code = await child.exited;
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}`);
  return performance.now() - start;
}

// Runs every command once per round, so machine noise hits all of them alike.
const commands: [string, string[]][] = [["raw /bin/true", ["/bin/true"]]];
for (const [name, self] of Object.entries(RUNTIMES)) {
  commands.push([
    `${name} empty start`,
    name === "bun" ? [process.execPath, "-e", ""] : [self[0] ?? "deno", "eval", ""],
  ]);
  for (const [label, without] of VARIANTS) {
    const flags = formatLauncherArgs({
      readable: [...MINIMAL_PATHS],
      writable: ["/tmp"],
      denied: [],
      readOnly: [],
      noLinksIn: [],
      exec: [],
      list: [],
      network: false,
      cwd: "/tmp",
      without,
      program: "/bin/true",
      argv0: "true",
      args: [],
    });
    commands.push([`${name} sandboxed /bin/true, ${label}`, [...self, "sandbox-exec", ...flags]]);
  }
}
const samples = commands.map((): number[] => []);
for (let round = 0; round < RUNS; round++) {
  for (const [i, [, argv]] of commands.entries()) samples[i]?.push(await timeOnce(argv));
}
console.log(`median (p10–p90) of ${RUNS} interleaved runs, ms`);
for (const [i, [label]] of commands.entries()) {
  const sorted = [...(samples[i] ?? [])].sort((a, b) => a - b);
  const at = (q: number): string => (sorted[Math.floor((sorted.length - 1) * q)] ?? 0).toFixed(1);
  console.log(`${label}: ${at(0.5)} (${at(0.1)}–${at(0.9)})`);
}
