/**
 * `npm start` in the checkout, as README's "Run from a checkout" has a new user run it, and as a
 * supervisor stops it: SIGTERM to npm, the process it started.
 */
import { expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { descendants, isAlive, pollUntil } from "../helpers/proc.ts";
import { startCommandLine } from "../helpers/server.ts";

const ROOT = join(import.meta.dir, "..", "..");
/** A new user's PATH: npm puts node_modules/.bin on it for the script. */
const USER_PATH = (process.env["PATH"] ?? "/usr/bin:/bin").split(":")
  .filter((dir) => !dir.startsWith(join(ROOT, "node_modules"))).join(":");
/** How long the server's tree may take to end after the signal (the server's own bound is 5 s). */
const TREE_GONE_WITHIN_MS = 20_000;

/** The pids of `pids` still alive (zombies count as gone). */
async function living(pids: readonly number[]): Promise<number[]> {
  const states = await Promise.all(pids.map(async (pid) => (await isAlive(pid)) ? pid : null));
  return states.filter((pid) => pid !== null);
}

test(
  "npm start --silent prints the URL first, and SIGTERM to npm ends the server and every process it started",
  async () => {
    const npm = await startCommandLine(["npm", "start", "--silent"], { env: { PATH: USER_PATH } });
    let tree: number[] = [];
    try {
      expect(npm.url).toMatch(/^ws:\/\/127\.0\.0\.1:[1-9]\d*$/);
      await using client = await npm.session();
      await client.call("process/start", {
        processId: "long",
        argv: ["/bin/sh", "-c", "sleep 600 & echo started; exec sleep 601"],
        cwd: "/",
        env: {},
        tty: false,
      });
      await client.waitForOutput("long", "started\n");
      // Both sleeps are forked by now, but may not have run execve yet: /proc shows when they have.
      const sleeps = ["sleep\x00600\x00", "sleep\x00601\x00"];
      const seen = await pollUntil(
        async () => {
          tree = await descendants(npm.child.pid ?? 0);
          return await Promise.all(
            tree.map((pid) => readFile(`/proc/${pid}/cmdline`, "latin1").catch(() => "")),
          );
        },
        (commands) => sleeps.every((sleep) => commands.includes(sleep)),
        TREE_GONE_WITHIN_MS,
      );
      expect(seen).toEqual(expect.arrayContaining(sleeps));
      npm.child.kill("SIGTERM");
      await npm.exited;
      const left = await pollUntil(() => living(tree), (pids) => pids.length === 0, TREE_GONE_WITHIN_MS);
      expect(left).toEqual([]);
    } finally {
      // A server npm left behind is this test's own: SIGTERM lets it end its tree.
      if (npm.child.exitCode === null && npm.child.signalCode === null) npm.child.kill("SIGTERM");
      for (const pid of await living(tree)) process.kill(pid, "SIGTERM");
    }
  },
  60_000,
);
