import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { z } from "zod";
import { NOTIFICATIONS, pathToUri, RESULT_SCHEMAS, WireErrorSchema } from "../../src/protocol/mod.ts";
import { PROTOCOL_SCHEMA_PATH, protocolJsonSchema, protocolJsonSchemaText } from "../../src/schema/mod.ts";
import { b64 } from "../helpers/shared_server.ts";
import { runServer } from "../helpers/run_servers.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { readDoc } from "./markdown.ts";

const RESULTS: Record<string, z.ZodType> = RESULT_SCHEMAS;
const SERVER_NOTIFICATIONS: Record<string, z.ZodType> = NOTIFICATIONS;

/** `value` as `schema` parses it: equal to `value` only when the schema knows every member. */
function parsedBy(schema: z.ZodType | undefined, value: unknown): unknown {
  if (schema === undefined) return "no schema";
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : parsed.error.issues;
}

describe("docs/protocol.schema.json", () => {
  test("is what npm run schema writes from the zod schemas", async () => {
    const committed = await readDoc(PROTOCOL_SCHEMA_PATH);
    // A difference here means the schemas changed: run `npm run schema` and commit the file.
    expect(JSON.parse(committed)).toEqual(protocolJsonSchema());
    expect(committed === protocolJsonSchemaText()).toBe(true);
  });

  test("describes every result and notification the server sends, member for member", async () => {
    const server = await runServer("bun");
    await using dir = await tempDir();
    await using client = await server.session();
    const methodOfId = new Map<unknown, string>([[1, "initialize"]]);
    let nextId = 100;
    const call = async (method: string, params: unknown): Promise<Record<string, unknown>> => {
      const id = nextId++;
      methodOfId.set(id, method);
      return await client.request(method, params, id);
    };
    const file = (name: string): string => pathToUri(join(dir.path, name));

    await call("environment/info", null);
    await call("process/start", {
      processId: "pipe",
      argv: ["/bin/cat"],
      cwd: dir.uri,
      env: {},
      tty: false,
      pipeStdin: true,
    });
    await call("process/write", { processId: "pipe", chunk: b64("hi\n"), writeId: "w1" });
    await call("process/closeStdin", { processId: "pipe" });
    await client.untilClosed("pipe");
    await call("process/read", { processId: "pipe", afterSeq: 0 });
    await call("process/signal", { processId: "pipe", signal: "interrupt" });
    await call("process/start", {
      processId: "term",
      argv: ["/bin/sh", "-c", "read line"],
      cwd: dir.uri,
      env: {},
      tty: true,
      timeoutMs: 60_000,
    });
    await call("process/resize", { processId: "term", cols: 100, rows: 30 });
    await call("process/list", {});
    await call("process/terminate", { processId: "term" });
    await client.untilClosed("term");

    await call("fs/writeFile", { path: file("a.txt"), dataBase64: b64("abc") });
    await call("fs/readFile", { path: file("a.txt") });
    await call("fs/createDirectory", { path: file("d") });
    await call("fs/getMetadata", { path: file("a.txt") });
    await call("fs/canonicalize", { path: file("a.txt") });
    await call("fs/readDirectory", { path: dir.uri });
    await call("fs/walk", {
      path: dir.uri,
      options: { maxDepth: 2, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false },
    });
    await call("fs/copy", { sourcePath: file("a.txt"), destinationPath: file("d/b.txt"), recursive: false });
    await call("fs/open", { handleId: "h", path: file("d/b.txt"), mode: "read" });
    await call("fs/readBlock", { handleId: "h", offset: 0, len: 2 });
    await call("fs/close", { handleId: "h" });
    await call("fs/open", { handleId: "w", path: file("c.txt"), mode: "replace" });
    await call("fs/writeBlock", { handleId: "w", offset: 0, chunk: b64("xyz") });
    await call("fs/close", { handleId: "w" });
    await call("fs/remove", { path: file("d"), recursive: true, force: false });
    await call("fs/readFile", { path: file("missing") });

    const checked = new Set<string>();
    for (const message of client.messages) {
      const method = message["method"];
      if (typeof method === "string") {
        checked.add(method);
        expect([method, parsedBy(SERVER_NOTIFICATIONS[method], message["params"])]).toEqual([
          method,
          message["params"],
        ]);
      } else if ("error" in message) {
        checked.add("error");
        expect(parsedBy(WireErrorSchema, message["error"])).toEqual(message["error"]);
      } else {
        const requested = methodOfId.get(message["id"]) ?? "an unknown request";
        checked.add(requested);
        expect([requested, parsedBy(RESULTS[requested], message["result"])]).toEqual([
          requested,
          message["result"],
        ]);
      }
    }
    expect([...checked].sort()).toEqual(
      [...Object.keys(RESULTS), ...Object.keys(SERVER_NOTIFICATIONS), "error"].sort(),
    );
  });
});
