/**
 * Caches the runtime reads at the server's own next start, before any code of the server runs,
 * against a sandbox whose writable roots hold them (docs/security.md): Deno's emit cache, where a
 * server running from its TypeScript sources finds the JavaScript of each of its modules, and V8's
 * code cache, where Deno finds the compiled code of every module it ran before; and Bun's
 * transpiler cache, which none of a Bun server's code reaches.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { startCommandLine, startServer } from "../helpers/server.ts";
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

/**
 * What the sandbox runs against V8's code cache (`v8_code_cache_v2` in DENO_DIR, SQLite): V8 takes
 * a module's cached code when the source's length, V8's version and its flags match, and Deno
 * when the row's hash of the source does. So it writes a module of `LEAF`'s length (read from the
 * header of the server's entry, where V8 keeps it) that exports what `LEAF` does and writes
 * `$MARKER`, has its own `deno` cache its code, and puts that code in the server's row, whose
 * source hash it keeps. Then it runs a program of its own with that DENO_DIR.
 */
const FORGE_CODE_CACHE = `
import { DatabaseSync } from "node:sqlite";
const env = (name) => Deno.env.get(name);
const spec = "file://" + env("LEAF_PATH");
let server;
try {
  server = new DatabaseSync(env("TARGET_DIR") + "/v8_code_cache_v2");
  const row = server.prepare("SELECT data FROM codecache WHERE specifier = ?").get(spec);
  const length = new DataView(row.data.buffer, row.data.byteOffset).getUint32(8, true) & 0x3fffffff;
  const code = 'export const IMAGE_RUN_VARIABLE = "EXEC_SERVER_IMAGE_RUN"; ' +
    'try { Deno.writeTextFileSync(Deno.env.get("MARKER"), "ran"); } catch { /* confined */ }\\n//';
  Deno.mkdirSync("forge", { recursive: true });
  Deno.writeTextFileSync("forge/m.js", code.padEnd(length, "x"));
  const scratch = Deno.cwd() + "/scratch";
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "forge/m.js"],
    env: { DENO_DIR: scratch },
  }).outputSync();
  const forged = new DatabaseSync(scratch + "/v8_code_cache_v2")
    .prepare("SELECT data FROM codecache WHERE specifier = ?").get("file://" + Deno.realPathSync("forge/m.js"));
  server.prepare("UPDATE codecache SET data = ? WHERE specifier = ?").run(forged.data, spec);
  console.log("forged");
} catch (error) {
  console.log("refused: " + error);
}
// A program of the sandbox's own that uses the same DENO_DIR still runs.
Deno.writeTextFileSync("own.js", "console.log(\\"own ran\\");");
const own = new Deno.Command(Deno.execPath(), {
  args: ["run", "--quiet", "own.js"],
  env: { DENO_DIR: env("TARGET_DIR") },
}).outputSync();
console.log(new TextDecoder().decode(own.stdout));
`;

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

/** The users a server runs as in these tests: root, and `nobody` (an unprivileged server). */
const SERVER_USERS = ["root", "nobody"] as const;

/** Starts a server the way a forging test wants it, with the env the test gives. */
type ServerStart = (env: Record<string, string>) => Promise<TestServer>;

/**
 * Runs `forge` in a fresh temp dir with a workspace `ws` (owned by nobody where the server runs as
 * nobody) and the path `ran` as its marker, against servers of `runtime` run as `who`.
 */
async function forgeAs(
  who: (typeof SERVER_USERS)[number],
  runtime: "bun" | "deno",
  forge: (start: ServerStart, workspace: string, marker: string) => Promise<{ forged: string; ran: boolean }>,
): Promise<{ forged: string; ran: boolean }> {
  await using dir = await tempDir();
  const workspace = join(dir.path, "ws");
  await fs.mkdir(workspace);
  if (who === "nobody") { for (const path of [dir.path, workspace]) await fs.chown(path, NOBODY, NOBODY); }
  const start: ServerStart = who === "root"
    ? (env) => startServer({ runtime, env })
    : (env) => startUnprivileged(runtime, workspace, [], env);
  return await forge(start, workspace, join(dir.path, "ran"));
}

/**
 * Starts a Deno server whose DENO_DIR lies in `workspace`, has a sandbox that writes `workspace`
 * forge the emit of one of its modules, starts the server again with that DENO_DIR and resolves
 * with whether the forged code ran there (it writes `marker`, with the server's env).
 */
async function forgedStartRan(
  start: ServerStart,
  workspace: string,
  marker: string,
  argv: readonly string[] = ["sh", "-c", FORGE],
): Promise<{ forged: string; ran: boolean }> {
  const denoDir = join(workspace, "deno-dir");
  const env = { DENO_DIR: denoDir, MARKER: marker };
  let forged = "";
  {
    await using server = await start(env);
    await using client = await server.session();
    await client.call(
      "process/start",
      startParams("forge", [...argv], workspace, {
        env: {
          ...CHILD_PATH,
          TARGET_DIR: denoDir,
          LEAF_PATH: join(REPO, LEAF),
          DENO_DIR: join(workspace, "scratch"),
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
  for (const who of SERVER_USERS) {
    test(`runs none of the sandbox's code at its next start, as ${who}`, async () => {
      const result = await forgeAs(
        who,
        "deno",
        (start, workspace, marker) => forgedStartRan(start, workspace, marker),
      );
      expect(result).toEqual({ forged: expect.stringContaining("refused\n"), ran: false });
    }, 120_000);
  }

  const forgeCodeCache = async (): Promise<string[]> => [
    await fs.realpath(join(REPO, "node_modules/.bin/deno")),
    "eval",
    FORGE_CODE_CACHE,
  ];

  for (const who of SERVER_USERS) {
    test(`runs none of the sandbox's code cached for V8 at its next start, as ${who}`, async () => {
      const argv = await forgeCodeCache();
      const result = await forgeAs(
        who,
        "deno",
        (start, workspace, marker) => forgedStartRan(start, workspace, marker, argv),
      );
      expect(result.forged).toContain("refused: Error: attempt to write a readonly database");
      expect(result).toEqual({ forged: expect.stringContaining("own ran\n"), ran: false });
    }, 120_000);
  }
});

/**
 * What the sandbox runs against Bun's transpiler cache (`$XDG_CACHE_HOME/bun/@t@`): each entry holds
 * a hash of its source, which it keeps, and the transpiled output with Bun's hash of it (Wyhash,
 * seed 42), which it computes again. It adds a line that writes `$MARKER` to the output of the
 * module every start runs first (`src/cli.ts`; `LEAF` is too small for Bun to keep).
 */
const FORGE_TRANSPILED = `
const dir = process.env.TARGET_DIR;
const { readdirSync, readFileSync, writeFileSync } = require("node:fs");
let forged = 0;
try {
  for (const name of readdirSync(dir)) {
    const entry = readFileSync(dir + "/" + name);
    const view = new DataView(entry.buffer, entry.byteOffset);
    const field = (i) => Number(view.getBigUint64(6 + i * 8, true));
    const [outputAt, outputLength, mapAt, mapLength] = [field(3), field(4), field(6), field(7)];
    const output = entry.subarray(outputAt, outputAt + outputLength);
    if (!output.toString("latin1").includes("export async function runCli(")) continue;
    const code = Buffer.concat([
      output,
      Buffer.from('\\ntry { process.getBuiltinModule("node:fs").writeFileSync(process.env.MARKER, "ran"); } catch {}\\n'),
    ]);
    const header = Buffer.from(entry.subarray(0, outputAt));
    const edit = new DataView(header.buffer, header.byteOffset);
    edit.setBigUint64(6 + 4 * 8, BigInt(code.length), true);
    edit.setBigUint64(6 + 5 * 8, Bun.hash.wyhash(code, 42n), true);
    edit.setBigUint64(6 + 6 * 8, BigInt(outputAt + code.length), true);
    writeFileSync(dir + "/" + name, Buffer.concat([header, code, entry.subarray(mapAt, mapAt + mapLength)]));
    forged++;
  }
  console.log("forged " + forged);
} catch (error) {
  console.log("refused: " + error);
}
`;

/**
 * Bun's transpiler cache keeps the output of every file past 50 KB that Bun transpiles, checked
 * only against a hash any process computes (Wyhash with Bun's seed): a sandbox that writes it
 * rewrites what the next run of such a file runs. None of the server's code may reach it: no
 * source is that large, and the bundle carries Bun's `// @bun` mark, which Bun runs as it is.
 */
describe("a Bun server, whose transpiler cache a sandbox may write", () => {
  const cacheAfterStart = async (command: readonly string[], cache: string): Promise<string[]> => {
    {
      await using server = await startCommandLine([...command, "--listen", "ws://127.0.0.1:0"], {
        env: { BUN_RUNTIME_TRANSPILER_CACHE_PATH: cache },
      });
      await using client = await server.session();
      await client.call(
        "process/start",
        startParams("p", ["true"], "/", { env: CHILD_PATH, sandbox: sandbox("/tmp") }),
      );
      await client.untilClosed("p");
    }
    return await fs.readdir(cache).catch(() => []);
  };

  /** Starts a Bun server from its sources, has the sandbox forge, starts it again: did it run? */
  const forgedTranspiledRan = async (
    start: ServerStart,
    workspace: string,
    marker: string,
  ): Promise<{ forged: string; ran: boolean }> => {
    const env = { XDG_CACHE_HOME: join(workspace, "cache"), MARKER: marker };
    const bun = await fs.realpath(join(REPO, "node_modules/.bin/bun"));
    let forged = "";
    {
      await using server = await start(env);
      await using client = await server.session();
      await client.call(
        "process/start",
        startParams("forge", [bun, "-e", FORGE_TRANSPILED], workspace, {
          // Its own `bun` uses that cache too, and runs.
          env: { ...CHILD_PATH, ...env, TARGET_DIR: join(workspace, "cache/bun/@t@") },
          sandbox: sandbox(workspace),
        }),
      );
      await client.untilClosed("forge");
      forged = client.outputText("forge");
    }
    {
      await using _again = await start(env);
    }
    return { forged, ran: await fs.access(marker).then(() => true, () => false) };
  };

  for (const who of SERVER_USERS) {
    test(`runs none of the sandbox's code at its next start from its sources, as ${who}`, async () => {
      const result = await forgeAs(who, "bun", forgedTranspiledRan);
      expect(result).toEqual({ forged: expect.stringContaining("refused: Error: EROFS"), ran: false });
    }, 120_000);
  }

  test("keeps none of its code there from its bundle", async () => {
    await using dir = await tempDir();
    const bun = join(REPO, "node_modules/.bin/bun");
    const bundle = join(dir.path, "exec-server.js");
    const built = Bun.spawnSync([
      bun,
      "build",
      join(REPO, "mod.ts"),
      "--target=bun",
      "--format=esm",
      `--outfile=${bundle}`,
    ]);
    expect(built.exitCode).toBe(0);
    expect(await cacheAfterStart([bun, bundle], join(dir.path, "bundle"))).toEqual([]);
  }, 120_000);
});
