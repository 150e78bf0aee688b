/**
 * The client in a browser: the fixture is bundled with `bun build --target=browser`, served from
 * an http origin, and run in headless Chromium (Debian's `chromium`; `.ci/run` installs it)
 * against servers that admit that origin (`--allow-origin`).
 */
import { describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CHROMIUM, launchChromium } from "../helpers/chromium.ts";
import { startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const FIXTURE = join(import.meta.dir, "..", "fixtures", "browser_client_fixture.ts");

describe("the client in headless Chromium", () => {
  test("starts a process, streams its output and reads a file, on a Bun and a Deno server", async () => {
    if (CHROMIUM === null && process.env["EXEC_SERVER_SKIP_BROWSER"] === "1") return;
    await using dir = await tempDir();
    await writeFile(join(dir.path, "hello.txt"), "hello from the server\n");
    const build = await Bun.build({ entrypoints: [FIXTURE], target: "browser", format: "esm" });
    const bundle = build.outputs[0];
    if (!build.success || bundle === undefined) throw new Error(`bundling failed: ${build.logs.join("\n")}`);
    const script = await bundle.text();
    expect(script).not.toMatch(/node:|Bun\.|Deno\./);
    using pages = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        if (new URL(request.url).pathname === "/client.js") {
          return new Response(script, { headers: { "content-type": "text/javascript" } });
        }
        return new Response("<!doctype html><title>client</title>", {
          headers: { "content-type": "text/html" },
        });
      },
    });
    const origin = `http://127.0.0.1:${pages.port}`;
    // Chromium and the servers start side by side; whatever started is stopped, even on a failure.
    await using started = new AsyncDisposableStack();
    const [browser, bun, deno] = await Promise.allSettled([
      launchChromium(join(dir.path, "profile")),
      startServer({ runtime: "bun", args: ["--allow-origin", origin] }),
      startServer({ runtime: "deno", args: ["--allow-origin", origin] }),
    ]);
    for (const outcome of [browser, bun, deno]) {
      if (outcome.status === "fulfilled") started.use(outcome.value);
    }
    if (browser.status === "rejected") throw browser.reason;
    if (bun.status === "rejected") throw bun.reason;
    if (deno.status === "rejected") throw deno.reason;
    const page = await browser.value.open(`${origin}/`);
    for (const [runtime, server] of [["bun", bun.value], ["deno", deno.value]] as const) {
      const call = `import("/client.js").then((m) => m.run(${JSON.stringify(server.url)}, ${
        JSON.stringify(dir.path)
      }))`;
      expect([runtime, await page.evaluate(call)]).toEqual([runtime, {
        kind: "remote",
        output: "one\ntwo\n",
        exitCode: 0,
        last: "closed",
        file: "hello from the server\n",
      }]);
    }
  });
});
