/**
 * Caches the runtime reads at the server's own next start, before any code of the server runs,
 * against a sandbox whose writable roots hold them (docs/security.md): Deno's emit cache, where a
 * server running from its TypeScript sources finds the JavaScript of each of its modules.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { NOBODY, startUnprivileged } from "../helpers/unprivileged_server.ts";

const REPO = resolve(import.meta.dir, "../..");
/** A module every start of the server loads, and that imports nothing. */
const LEAF = "src/runtime/image_run_mark.ts";

/**
 * What the sandbox runs: it has its own `deno` emit a copy of `LEAF` with a line that writes
 * `$MARKER`, then writes that emit over the server's, under the hash of `LEAF`'s source that the
 * server's entry carries and the emit's own hash (Deno's emit cache checks only those two).
 */
const FORGE = [
  "set -e",
  `target="$TARGET_DIR/gen/file${REPO}/${LEAF}.js"`,
  "mkdir -p forge",
  `{ cat "${
    join(REPO, LEAF)
  }"; echo 'try { Deno.writeTextFileSync(Deno.env.get("MARKER"), "ran"); } catch { /* confined */ }'; } > forge/m.ts`,
  'DENO_DIR="$PWD/scratch" "$DENO" run -A --quiet forge/m.ts',
  'emitted="$PWD/scratch/gen/file$PWD/forge/m.ts.js"',
  "source=$(tail -n1 \"$target\" | sed 's/.*=\\([0-9]*\\),.*/\\1/')",
  "emit=$(tail -n1 \"$emitted\" | sed 's/.*,//')",
  '{ head -n -1 "$emitted"; printf \'// denoCacheMetadata=%s,%s\' "$source" "$emit"; } > forge/entry.js',
  'cat forge/entry.js > "$target" && echo forged || echo refused',
].join("\n");

function sandbox(workspace: string): Record<string, unknown> {
  const entries = [
    { path: { type: "special", value: { kind: "root" } }, access: "read" },
    { path: { type: "path", path: pathToUri(workspace) }, access: "write" },
  ];
  return {
    permissions: { type: "managed", file_system: { type: "restricted", entries }, network: "restricted" },
    windowsSandboxLevel: "disabled",
  };
}

/**
 * Starts a Deno server whose DENO_DIR lies in `workspace`, has a sandbox that writes `workspace`
 * forge the emit of one of its modules, starts the server again with that DENO_DIR and resolves
 * with whether the forged code ran there (it writes `marker`, with the server's env).
 */
async function forgedStartRan(
  start: (env: Record<string, string>) => Promise<TestServer>,
  workspace: string,
  marker: string,
): Promise<{ forged: string; ran: boolean }> {
  const denoDir = join(workspace, "deno-dir");
  const env = { DENO_DIR: denoDir, MARKER: marker };
  let forged = "";
  {
    await using server = await start(env);
    await using client = await server.session();
    await client.call(
      "process/start",
      startParams("forge", ["sh", "-c", FORGE], workspace, {
        env: {
          ...CHILD_PATH,
          TARGET_DIR: denoDir,
          MARKER: marker,
          DENO: await fs.realpath(join(REPO, "node_modules/.bin/deno")),
        },
        sandbox: sandbox(workspace),
      }),
    );
    await client.untilClosed("forge");
    forged = client.outputText("forge");
  }
  {
    await using _again = await start(env);
  }
  const ran = await fs.access(marker).then(() => true, () => false);
  return { forged, ran };
}

describe("a Deno server running from its sources, whose DENO_DIR a sandbox may write", () => {
  test("runs none of the sandbox's code at its next start, as root", async () => {
    await using dir = await tempDir();
    const workspace = join(dir.path, "ws");
    await fs.mkdir(workspace);
    const result = await forgedStartRan(
      (env) => startServer({ runtime: "deno", env }),
      workspace,
      join(dir.path, "ran"),
    );
    expect(result).toEqual({ forged: expect.stringContaining("refused\n"), ran: false });
  }, 120_000);

  test("runs none of the sandbox's code at its next start, as nobody", async () => {
    await using dir = await tempDir();
    const workspace = join(dir.path, "ws");
    await fs.mkdir(workspace);
    for (const path of [dir.path, workspace]) await fs.chown(path, NOBODY, NOBODY);
    const result = await forgedStartRan(
      (env) => startUnprivileged("deno", workspace, [], env),
      workspace,
      join(dir.path, "ran"),
    );
    expect(result).toEqual({ forged: expect.stringContaining("refused\n"), ran: false });
  }, 120_000);
});
