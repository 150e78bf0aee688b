import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { join } from "node:path";
import { RUNTIMES, serverCommand, TEST_RUNTIME_ENV } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/**
 * Opens the FIFO's write end once its reader, the server, has opened it, and keeps it open without
 * writing: the server's read of the token then waits without end.
 */
async function holdWriteEnd(fifo: string): Promise<number> {
  for (;;) {
    try {
      return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      // ENXIO: no reader yet.
      if ((error as NodeJS.ErrnoException).code !== "ENXIO") throw error;
      await Bun.sleep(5);
    }
  }
}

describe.each(RUNTIMES)("a signal during start-up on %s", (runtime) => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test.concurrent(`${signal} ends a start-up that waits without end`, async () => {
      await using dir = await tempDir();
      // A token file that is a FIFO nobody writes: reading it waits for ever, before the URL.
      const fifo = join(dir.path, "token");
      execFileSync("mkfifo", [fifo]);
      const server = Bun.spawn(
        [
          ...serverCommand(runtime),
          "--listen",
          "ws://127.0.0.1:0",
          "--ws-auth",
          "capability-token",
          "--ws-token-file",
          fifo,
        ],
        { env: { ...process.env, ...TEST_RUNTIME_ENV }, stdout: "pipe", stderr: "ignore" },
      );
      try {
        const writeEnd = await holdWriteEnd(fifo);
        server.kill(signal);
        expect(await server.exited).toBe(0);
        expect(await new Response(server.stdout).text()).toBe("");
        closeSync(writeEnd);
      } finally {
        server.kill("SIGKILL");
      }
    });
  }
});
