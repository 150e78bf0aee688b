import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { serverCommand, TEST_RUNTIME_ENV } from "../helpers/server.ts";

test("the CLI refuses to serve in a run of its own images, which a server would start without end", () => {
  const [program = "", ...args] = serverCommand("bun");
  const result = spawnSync(program, [...args, "--listen", "ws://127.0.0.1:0"], {
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...TEST_RUNTIME_ENV, EXEC_SERVER_IMAGE_RUN: "1" },
    timeout: 20_000,
  });
  expect([result.status, result.stdout]).toEqual([2, ""]);
  expect(result.stderr).toContain("must pass its arguments to main()");
});
