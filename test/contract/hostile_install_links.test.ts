/**
 * A server installed by a package manager that hard-links packages from its cache (`bun install`,
 * pnpm, Deno's `node_modules`) shares its bundle's inode with the cache's copy: a sandbox whose
 * writable roots hold the cache (`~/.bun`, a policy that lets package managers keep their caches)
 * rewrites the bundle through that other name, and the bundle is what every sandboxed launch runs
 * before confinement, and what the next start of the server runs (docs/security.md).
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { RUNTIMES, startCommandLine } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import type { TestClient } from "../helpers/client.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { NOBODY } from "../helpers/unprivileged_server.ts";

const REPO = resolve(import.meta.dir, "../..");
const BUN = join(REPO, "node_modules/.bin/bun");
const DENO = join(REPO, "node_modules/.bin/deno");

/** What the sandbox puts on the bundle's second line: it writes `marker` wherever it runs unconfined. */
function forgedLine(marker: string): string {
  const path = JSON.stringify(marker);
  return `try { globalThis.Deno ? Deno.writeTextFileSync(${path}, "ran") : ` +
    `process.getBuiltinModule("node:fs").writeFileSync(${path}, "ran"); } catch { /* confined */ }`;
}

/**
 * Runs `script` in a sandbox on `workspace` with `line` (the forged line, owned by `who`) beside
 * it, and answers what it printed.
 */
async function forgeInSandbox(
  client: TestClient,
  workspace: string,
  script: string,
  marker: string,
  who: "root" | "nobody",
): Promise<string> {
  await fs.writeFile(join(workspace, "line"), `${forgedLine(marker)}\n`);
  if (who === "nobody") await fs.chown(join(workspace, "line"), NOBODY, NOBODY);
  await client.call(
    "process/start",
    startParams("forge", ["sh", "-c", script], workspace, {
      env: CHILD_PATH,
      sandbox: sandbox(workspace),
    }),
  );
  await client.untilClosed("forge");
  return client.outputText("forge");
}

function sandbox(workspace: string): Record<string, unknown> {
  const entries = [
    { path: { type: "special", value: { kind: "minimal" } }, access: "read" },
    { path: { type: "path", path: pathToUri(workspace) }, access: "write" },
  ];
  return {
    permissions: { type: "managed", file_system: { type: "restricted", entries }, network: "restricted" },
    windowsSandboxLevel: "disabled",
  };
}

/** Builds the package's bundle (as `npm run build` does) into `path`. */
function buildBundle(path: string): void {
  const built = Bun.spawnSync([
    BUN,
    "build",
    join(REPO, "mod.ts"),
    "--target=bun",
    "--format=esm",
    `--outfile=${path}`,
  ]);
  expect(built.exitCode).toBe(0);
}

describe.each(RUNTIMES)(
  "a server whose bundle a package manager hard-linked from its cache, on %s",
  (runtime) => {
    for (const who of ["root", "nobody"] as const) {
      test(`runs none of the sandbox's code written through the cache's link, as ${who}`, async () => {
        await using dir = await tempDir();
        const install = join(dir.path, "install");
        const workspace = join(dir.path, "ws");
        const home = join(dir.path, "home");
        for (const path of [install, workspace, join(workspace, "cache"), home]) await fs.mkdir(path);
        const bundle = join(install, "exec-server.js");
        buildBundle(bundle);
        // The package manager's cache entry and the installed file are one inode.
        const cached = join(workspace, "cache", "exec-server.js");
        await fs.link(bundle, cached);
        const original = await fs.readFile(bundle, "utf8");
        const owner = who === "root"
          ? []
          : ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"];
        if (who === "nobody") {
          for (const path of [dir.path, install, bundle, workspace, join(workspace, "cache"), home]) {
            await fs.chown(path, NOBODY, NOBODY);
          }
        }
        const marker = join(dir.path, "ran");
        const command = runtime === "bun"
          ? [await fs.realpath(BUN), "--config=/dev/null", "--no-env-file", bundle]
          : [await fs.realpath(DENO), "run", "-A", "--no-config", bundle];
        const start = (): Promise<TestServer> =>
          startCommandLine(
            [...owner, ...command, "--listen", "ws://127.0.0.1:0", "--quiet", "--allow-local-users"],
            { env: { HOME: home, DENO_DIR: join(home, "deno") } },
          );
        let forged = "";
        {
          await using server = await start();
          await using client = await server.session();
          // Rewritten in place (a rename would give the cache's name an inode of its own).
          const script =
            `cat cache/exec-server.js > copy && { head -n 1 copy; cat line; tail -n +2 copy; } > ` +
            "cache/exec-server.js && echo forged";
          forged = await forgeInSandbox(client, workspace, script, marker, who);
          // The next sandboxed launch runs the server's bundle before it confines itself.
          await client.call(
            "process/start",
            startParams("next", ["sh", "-c", "echo next"], workspace, {
              env: CHILD_PATH,
              sandbox: sandbox(workspace),
            }),
          );
          await client.untilClosed("next");
          expect(client.outputText("next")).toBe("next\n");
        }
        {
          // And so does the server's next start.
          await using _again = await start();
        }
        expect({
          forged,
          ran: await fs.access(marker).then(() => true, () => false),
          bundle: (await fs.readFile(bundle, "utf8")) === original,
        }).toEqual({ forged: "forged\n", ran: false, bundle: true });
      }, 120_000);
    }
  },
);

/**
 * A checkout of the server (its sources, as a server running from them loads them) whose
 * dependencies `bun install` linked from its cache, which lies in `workspace`.
 */
async function linkedCheckout(dir: string, workspace: string): Promise<string> {
  const checkout = join(dir, "checkout");
  await fs.mkdir(join(checkout, "node_modules"), { recursive: true });
  for (const part of ["src", "worker", "mod.ts", "package.json", "deno.json"]) {
    await fs.cp(join(REPO, part), join(checkout, part), { recursive: true });
  }
  for (const name of ["zod", "hono"]) {
    const cached = join(workspace, "cache", name);
    await fs.cp(join(REPO, "node_modules", name), cached, { recursive: true });
    expect(Bun.spawnSync(["cp", "-al", cached, join(checkout, "node_modules", name)]).exitCode).toBe(0);
  }
  return checkout;
}

describe.each(RUNTIMES)(
  "a server running from sources whose dependency a package manager hard-linked, on %s",
  (runtime) => {
    for (const who of ["root", "nobody"] as const) {
      test(
        `runs none of the sandbox's code written through the cache's link at its next start, as ${who}`,
        async () => {
          await using dir = await tempDir();
          const workspace = join(dir.path, "ws");
          const home = join(dir.path, "home");
          for (const path of [workspace, join(workspace, "cache"), home]) await fs.mkdir(path);
          const checkout = await linkedCheckout(dir.path, workspace);
          // `deno bundle`, which builds the launcher's bundle from the sources, runs esbuild from
          // DENO_DIR (its binary in `dl`, its package metadata in `npm`), as the host's DENO_DIR has it.
          const hostDenoDir = process.env["DENO_DIR"] ?? join(process.env["HOME"] ?? "/root", ".cache/deno");
          for (const part of ["npm", "dl"]) {
            await fs.cp(join(hostDenoDir, part), join(home, "deno", part), { recursive: true }).catch(
              () => {},
            );
          }
          const owner = who === "root"
            ? []
            : ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"];
          if (who === "nobody") {
            expect(Bun.spawnSync(["chown", "-R", `${NOBODY}:${NOBODY}`, dir.path]).exitCode).toBe(0);
          }
          const marker = join(dir.path, "ran");
          const entry = join(checkout, "mod.ts");
          const command = runtime === "bun"
            ? [await fs.realpath(BUN), entry]
            : [await fs.realpath(DENO), "run", "-A", "--quiet", entry];
          const start = (): Promise<TestServer> =>
            startCommandLine(
              [...owner, ...command, "--listen", "ws://127.0.0.1:0", "--quiet", "--allow-local-users"],
              { env: { HOME: home, DENO_DIR: join(home, "deno") } },
            );
          const index = join(checkout, "node_modules/zod/index.js");
          const original = await fs.readFile(index, "utf8");
          let forged = "";
          {
            await using server = await start();
            await using client = await server.session();
            const script =
              "cat cache/zod/index.js > copy && { cat line; cat copy; } > cache/zod/index.js && echo forged";
            forged = await forgeInSandbox(client, workspace, script, marker, who);
          }
          {
            await using _again = await start();
          }
          expect({
            forged,
            ran: await fs.access(marker).then(() => true, () => false),
            zod: (await fs.readFile(index, "utf8")) === original,
          }).toEqual({ forged: "forged\n", ran: false, zod: true });
        },
        120_000,
      );
    }
  },
);
