import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { RUNTIMES, serverCommand, TEST_RUNTIME_ENV } from "../helpers/server.ts";

describe.each(RUNTIMES)("a URL nobody can read on %s", (runtime) => {
  test.concurrent("a server whose stdout is closed before its URL shuts down and exits 1", async () => {
    const server = spawn(serverCommand(runtime)[0] ?? "", [
      ...serverCommand(runtime).slice(1),
      "--listen",
      "ws://127.0.0.1:0",
    ], { env: { ...process.env, ...TEST_RUNTIME_ENV }, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
    let stderr = "";
    server.stderr.on("data", (data: Buffer) => {
      stderr += data.toString();
    });
    // The only reader of the server's stdout goes before the server can write its URL there.
    server.stdout.destroy();
    try {
      expect(await exited).toBe(1);
      expect(stderr).toContain("cannot write the URL to stdout");
    } finally {
      server.kill("SIGKILL");
    }
  });
});
