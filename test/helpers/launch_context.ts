/**
 * Launch contexts for tests that drive the launcher with fixtures instead of the server: the
 * launcher and the worker run from given scripts, under Bun or Deno, started the way the runtime
 * adapters start them (no config, and under Deno a permission fence for the worker).
 */
import { join, resolve } from "node:path";
import type { PermissionFence } from "../../src/runtime/mod.ts";
import type { LaunchContext } from "../../src/sandbox/mod.ts";

const REPO = resolve(import.meta.dir, "../..");
const DENO = join(REPO, "node_modules/.bin/deno");

/** Deno's `--allow-read`/`--allow-write` for a fence (a comma in a path is doubled). */
function fenceFlags(fence: PermissionFence): string[] {
  const list = (paths: readonly string[]): string =>
    paths.map((path) => path.replaceAll(",", ",,")).join(",");
  return [
    ...(fence.read.length > 0 ? [`--allow-read=${list(fence.read)}`] : []),
    ...(fence.write.length > 0 ? [`--allow-write=${list(fence.write)}`] : []),
  ];
}

/** A context whose launcher runs `scripts.launcher` and whose worker runs `scripts.worker`. */
export function fixtureLaunchContext(
  runtime: "bun" | "deno",
  scripts: { launcher: string; worker: string },
): LaunchContext {
  const executable = runtime === "bun" ? process.execPath : DENO;
  return {
    launcher: { executable, script: scripts.launcher },
    worker: { executable, script: scripts.worker },
    command: (image, args, fence) =>
      runtime === "bun"
        ? [image.executable, "--config=/dev/null", "--no-env-file", image.script ?? "", ...args]
        : [
          image.executable,
          "run",
          "--no-config",
          "--no-lock",
          "--quiet",
          ...(fence === undefined ? ["-A"] : fenceFlags(fence)),
          image.script ?? "",
          ...args,
        ],
    env: runtime === "bun" ? { BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" } : {},
    userNamespaceHelper: null,
  };
}

/** Bundles a fixture into one file, as the worker must be: it sees nothing else of the checkout. */
export async function bundleFixture(entry: string, outfile: string): Promise<void> {
  const child = Bun.spawn([
    process.execPath,
    "build",
    entry,
    "--target=bun",
    "--format=esm",
    "--outfile",
    outfile,
  ], {
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`bun build ${entry} failed: ${stderr}`);
}
