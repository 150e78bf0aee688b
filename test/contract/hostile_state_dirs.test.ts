/**
 * What a sandbox leaves in the places where servers make their state directories (`/tmp`, the
 * temporary directory, `$XDG_RUNTIME_DIR`), which every resolution of every policy looks through
 * for other servers' state directories and their lists (docs/security.md). Codex's
 * `workspace-write` makes `/tmp` and `$TMPDIR` writable, so any sandbox may write there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { NOBODY, startUnprivileged } from "../helpers/unprivileged_server.ts";

/**
 * More names than V8 takes as arguments of one call (about 125,000 at its default stack), which
 * a Deno server spread into one before.
 */
const FLOOD = 150_000;

describe("a user's directory of state directories filled with names", () => {
  // The place is the servers' temporary directory, on tmpfs where there is one: the names are
  // what a sandbox whose writable roots hold the place can make there, made faster.
  let place = "";
  beforeAll(async () => {
    place = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "exec-server-test-"));
    const filled = join(place, "exec-server-uid-4242");
    await mkdir(filled);
    for (let i = 0; i < FLOOD; i++) closeSync(openSync(join(filled, `exec-server-${i}-AbC123`), "w"));
  });
  afterAll(async () => {
    if (place !== "") await rm(place, { recursive: true, force: true });
  });

  for (const runtime of RUNTIMES) {
    describe(runtime, () => {
      let server: TestServer | null = null;
      beforeAll(async () => {
        server = await startServer({ runtime, env: { TMPDIR: place } });
      });
      afterAll(async () => {
        await server?.[Symbol.asyncDispose]();
      });

      test("fails no sandboxed launch or fs call of another policy", async () => {
        await using dir = await tempDir();
        await using client = await server!.session();
        const sandbox = managedSandbox({ write: [pathToUri(dir.path)] });
        await client.call(
          "process/start",
          startParams("p", ["sh", "-c", "echo ran"], dir.path, { env: CHILD_PATH, sandbox }),
        );
        await client.untilClosed("p");
        expect(client.outputText("p")).toBe("ran\n");
        const metadata = await client.call("fs/getMetadata", { path: dir.uri, sandbox });
        expect(metadata).toMatchObject({ isDirectory: true });
      });
    });
  }
});

/** A pid no process has (above the kernel's limit). */
const DEAD = 999999999;
/** Deeper than Deno's recursive remove goes before its thread's stack overflows (11,000). */
const NEST = 12_000;
/** How long a server may take to start beside the tree: far more than a start takes on two busy cores. */
const START_WITHIN_MS = 60_000;

describe("a tree nested deep under a dead server's state directory's name", () => {
  // A sandbox whose writable roots hold the place names a directory as a dead server's state
  // directory (whoever runs the sandbox owns it: root, or an unprivileged server's user) and
  // nests directories in it, which the next server of that user removes as it starts. The nesting
  // is made here outside the sandbox, where Landlock's checks, which walk up the tree, do not slow
  // each mkdir; the sandbox makes the top directory, to show it may.
  for (const runtime of RUNTIMES) {
    for (const user of ["root", "nobody"] as const) {
      test(`stops no later server's start (${runtime}, ${user})`, async () => {
        await using home = await tempDir();
        // Not on /dev/shm: the sandbox's /dev shows only its few devices.
        const place = await mkdtemp(join(tmpdir(), "exec-server-test-"));
        try {
          const env = { TMPDIR: place };
          const start = () =>
            user === "root" ? startServer({ runtime, env }) : startUnprivileged(runtime, home.path, [], env);
          if (user === "nobody") await chown(place, NOBODY, NOBODY);
          const stale = join(place, `exec-server-${DEAD}-AbC123`);
          {
            await using first = await start();
            await using client = await first.session();
            const sandbox = managedSandbox({ write: [pathToUri(place)] });
            await client.call(
              "process/start",
              startParams("p", ["mkdir", stale], place, { env: CHILD_PATH, sandbox }),
            );
            await client.untilClosed("p");
            expect(client.outputText("p")).toBe("");
          }
          expect(existsSync(stale)).toBe(true);
          const asOwner = user === "root"
            ? []
            : ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--"];
          const nest =
            `import os\nos.chdir('${stale}')\nfor _ in range(${NEST}):\n    os.mkdir('d'); os.chdir('d')`;
          const [command = "", ...args] = [...asOwner, "/usr/bin/python3", "-c", nest];
          const nested = spawnSync(command, args, { cwd: "/", encoding: "utf8" });
          expect(`${nested.status} ${nested.stderr}`).toBe("0 ");

          const starting = start();
          const late = new Promise<"late">((resolve) =>
            setTimeout(() => resolve("late"), START_WITHIN_MS).unref()
          );
          const second = await Promise.race([starting, late]).catch((error: unknown) => String(error));
          // A server still starting after the bound is disposed of whenever it gets there.
          if (second === "late") void starting.then((server) => server[Symbol.asyncDispose](), () => {});
          expect(typeof second === "string" ? second : "started").toBe("started");
          if (typeof second === "string") return;
          await using server = second;
          await using client = await server.session();
          await client.call(
            "process/start",
            startParams("q", ["sh", "-c", "echo ran"], place, { env: CHILD_PATH }),
          );
          await client.untilClosed("q");
          expect(client.outputText("q")).toBe("ran\n");
        } finally {
          // coreutils' rm goes by descriptors, level by level: the runtimes' own recursive removes
          // are what failed here.
          spawnSync("rm", ["-rf", place]);
        }
      }, 3 * START_WITHIN_MS);
    }
  }
});
