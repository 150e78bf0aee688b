/**
 * A JSON string may spell a UTF-16 surrogate without its pair (`"\udc00"`), which no UTF-8 text
 * holds: the runtimes' encoders turn it into U+FFFD, so such a path names another file. Every
 * request whose params hold one is refused, answered by its id (PROTOCOL.md §2.4, §9.1).
 */
import { describe, expect, test } from "bun:test";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ErrorReply } from "../helpers/client.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { b64, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** The -32602 of a lone surrogate at `index` of the member `member` of a `method` request. */
function refusal(method: string, member: string, unit: string, index: number | string): ErrorReply {
  return {
    code: -32602,
    message: `invalid params for ${method}: ${member}: lone surrogate U+${unit} at index ${index}, ` +
      "which is not valid Unicode",
    data: { kind: "InvalidParams" },
  };
}

describe.each(RUNTIMES)("params with a lone surrogate on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("fs/readFile of a path with a lone surrogate is -32602, not the U+FFFD file", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await writeFile(join(dir.path, "a\ufffdb"), "replacement-char file");
    // Written by hand, as the tester's frame was: the escape is in the JSON text.
    client.send(`{"id":"r","method":"fs/readFile","params":{"path":"${dir.uri}/a\\udc00b","sandbox":null}}`);
    expect(await client.replyTo("r")).toEqual({
      id: "r",
      error: refusal("fs/readFile", "path", "DC00", dir.uri.length + 2),
    });
  });

  test.concurrent("fs/remove of a path with a lone surrogate is -32602 and removes nothing", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await writeFile(join(dir.path, "a\ufffdb"), "replacement-char file");
    const path = `${dir.uri}/a\ud800b`;
    expect(await client.callError("fs/remove", { path, recursive: false, force: false, sandbox: null }))
      .toEqual(refusal("fs/remove", "path", "D800", dir.uri.length + 2));
    expect(await readdir(dir.path)).toEqual(["a\ufffdb"]);
  });

  test.concurrent("fs/writeFile to a path with a lone surrogate is -32602 and creates nothing", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const path = `${dir.path}/x\ud800y`;
    expect(await client.callError("fs/writeFile", { path, dataBase64: b64("data"), sandbox: null }))
      .toEqual(refusal("fs/writeFile", "path", "D800", dir.path.length + 2));
    expect(await readdir(dir.path)).toEqual([]);
  });

  test.concurrent.each([
    ["argv", { argv: ["echo", "a\udc00"] }, "argv.1", "DC00", 1],
    ["env value", { env: { A: "\ud800" } }, "env.A", "D800", 0],
    ["env name", { env: { "B\udfff": "1" } }, "env", "DFFF", "1 of a member name"],
    ["arg0", { arg0: "\udbff\udbff" }, "arg0", "DBFF", 0],
  ])(
    "process/start with a lone surrogate in its %s is -32602 and starts nothing",
    async (_what, overrides, member, unit, index) => {
      await using dir = await tempDir();
      await using client = await server().session();
      expect(await client.callError("process/start", startParams("p", ["echo", "x"], dir.uri, overrides)))
        .toEqual(refusal("process/start", member, unit, index));
      expect(await client.callError("process/read", { processId: "p" })).toMatchObject({ code: -32600 });
    },
  );

  test.concurrent("process/start with a cwd holding a lone surrogate is -32602", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const cwd = `${dir.path}/\udc00`;
    expect(await client.callError("process/start", startParams("p", ["true"], cwd)))
      .toEqual(refusal("process/start", "cwd", "DC00", dir.path.length + 1));
  });

  test.concurrent("a surrogate pair escaped in JSON is one character and is accepted", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    client.send(
      `{"id":"w","method":"fs/writeFile","params":{"path":"${dir.uri}/\\ud83d\\ude00","dataBase64":"","sandbox":null}}`,
    );
    expect(await client.replyTo("w")).toEqual({ id: "w", result: {} });
    expect(await readdir(dir.path)).toEqual(["\u{1f600}"]);
  });
});
