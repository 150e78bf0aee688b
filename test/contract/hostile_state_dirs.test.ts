/**
 * What a sandbox leaves in the places where servers make their state directories (`/tmp`, the
 * temporary directory, `$XDG_RUNTIME_DIR`), which every resolution of every policy looks through
 * for other servers' state directories and their lists (docs/security.md). Codex's
 * `workspace-write` makes `/tmp` and `$TMPDIR` writable, so any sandbox may write there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import type { TestServer } from "../helpers/server.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

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
