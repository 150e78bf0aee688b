import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BULK_WRITE, startHeldReader } from "../helpers/held_reader.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { b64, CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

describe.each(RUNTIMES)("process/write on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("process/write accepts bytes that reach the child's stdin", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("cat", ["cat"], dir.uri, { pipeStdin: true }));
    expect(await client.call("process/write", { processId: "cat", chunk: b64("one\n"), writeId: "w1" }))
      .toEqual({
        status: "accepted",
      });
    await client.waitForOutput("cat", "one\n");
    await client.call("process/terminate", { processId: "cat" });
  });

  test.concurrent("process/write with a recorded writeId answers accepted without writing again", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("dedup", ["cat"], dir.uri, { pipeStdin: true }));
    await client.call("process/write", { processId: "dedup", chunk: b64("one\n"), writeId: "w1" });
    expect(await client.call("process/write", { processId: "dedup", chunk: b64("two\n"), writeId: "w1" }))
      .toEqual({
        status: "accepted",
      });
    await client.call("process/write", { processId: "dedup", chunk: b64("three\n"), writeId: "w2" });
    await client.call("process/closeStdin", { processId: "dedup" });
    await client.untilClosed("dedup");
    expect(client.outputText("dedup")).toBe("one\nthree\n");
  });

  test.concurrent("process/write with the writeId of a pending write waits for it and does not write again", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const child = await startHeldReader(client, { processId: "held", dir, then: "tail -c 10" });
    const write = (id: string, chunk: string, writeId: string): void =>
      client.send({ id, method: "process/write", params: { processId: "held", chunk, writeId } });
    write("bulk", BULK_WRITE, "bulk");
    write("first", b64("ONCE\n"), "k");
    write("retry", b64("ONCE\n"), "k");
    write("other", b64("AGAIN\n"), "k");
    // Requests are dispatched in arrival order (§2.5): once this is answered, all three writes
    // with writeId "k" have arrived, and back-pressure holds them while the child reads nothing.
    await client.call("process/read", { processId: "held" });
    expect(client.messages.filter((message) => ["first", "retry", "other"].includes(String(message["id"]))))
      .toEqual([]);
    await child.release();
    expect(
      (await Promise.all(["first", "retry", "other"].map((id) => client.replyTo(id)))).map((reply) =>
        reply["result"]
      ),
    )
      .toEqual([{ status: "accepted" }, { status: "accepted" }, { status: "accepted" }]);
    await client.call("process/closeStdin", { processId: "held" });
    await client.untilClosed("held");
    expect(client.outputText("held")).toBe(".....ONCE\n");
  });

  test.concurrent("process/write with the writeId of a pending write answers as that write does", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    // The child exits without reading: the pending write ends stdinClosed, and so does its retry.
    const child = await startHeldReader(client, { processId: "quits", dir, then: "exit 0" });
    const write = (id: string, chunk: string, writeId: string): void =>
      client.send({ id, method: "process/write", params: { processId: "quits", chunk, writeId } });
    write("bulk", BULK_WRITE, "bulk");
    write("first", b64("ONCE\n"), "k");
    write("retry", b64("ONCE\n"), "k");
    await client.call("process/read", { processId: "quits" });
    await child.release();
    expect(
      (await Promise.all(["first", "retry"].map((id) => client.replyTo(id)))).map((reply) => reply["result"]),
    )
      .toEqual([{ status: "stdinClosed" }, { status: "stdinClosed" }]);
    await client.untilClosed("quits");
  });

  test.concurrent("process/write held back when the process closes answers stdinClosed though a descendant keeps stdin", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    // The child leaves a descendant that holds stdin open without reading it (it waits on a FIFO)
    // and exits; the descendant's other streams go elsewhere, so the process closes at once. A
    // background job's stdin is /dev/null unless redirected from another descriptor.
    const hold = join(dir.path, "hold");
    execFileSync("mkfifo", [hold]);
    const child = await startHeldReader(client, {
      processId: "kept",
      dir,
      then: `exec 3<&0; cat "${hold}" 0<&3 3<&- >/dev/null 2>&1 & exit 0`,
    });
    const write = (id: string, chunk: string): void =>
      client.send({ id, method: "process/write", params: { processId: "kept", chunk, writeId: id } });
    write("bulk", BULK_WRITE);
    write("second", BULK_WRITE);
    write("third", b64("x"));
    await client.call("process/read", { processId: "kept" });
    await child.release();
    await client.untilClosed("kept");
    expect(
      (await Promise.all(["second", "third"].map((id) => client.replyTo(id)))).map((reply) =>
        reply["result"]
      ),
    )
      .toEqual([{ status: "stdinClosed" }, { status: "stdinClosed" }]);
    // The descendant ends once the FIFO has a writer.
    await writeFile(hold, "");
  });

  test.concurrent("process/write without writeId is never deduplicated", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("nodedup", ["cat"], dir.uri, { pipeStdin: true }));
    await client.call("process/write", { processId: "nodedup", chunk: b64("a") });
    await client.call("process/write", { processId: "nodedup", chunk: b64("a"), writeId: null });
    await client.call("process/closeStdin", { processId: "nodedup" });
    await client.untilClosed("nodedup");
    expect(client.outputText("nodedup")).toBe("aa");
  });

  test.concurrent("process/write answers stdinClosed for a process without pipeStdin", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("nostdin", ["sleep", "30"], dir.uri));
    expect(await client.call("process/write", { processId: "nostdin", chunk: b64("x"), writeId: "w2" }))
      .toEqual({
        status: "stdinClosed",
      });
    await client.call("process/terminate", { processId: "nostdin" });
  });

  test.concurrent("process/write answers unknownProcess for an unknown id", async () => {
    await using client = await server().session();
    expect(await client.call("process/write", { processId: "nope", chunk: b64("x"), writeId: "w3" })).toEqual(
      {
        status: "unknownProcess",
      },
    );
  });

  test.concurrent("process/write answers stdinClosed for a closed process", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("done", ["true"], dir.uri, { pipeStdin: true }));
    await client.untilClosed("done");
    expect(await client.call("process/write", { processId: "done", chunk: b64("x") })).toEqual({
      status: "stdinClosed",
    });
  });

  test.concurrent("process/write accepts an empty chunk", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("empty", ["cat"], dir.uri, { pipeStdin: true }));
    expect(await client.call("process/write", { processId: "empty", chunk: "" })).toEqual({
      status: "accepted",
    });
    await client.call("process/terminate", { processId: "empty" });
  });

  test.concurrent("process/write accepts unpadded base64", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("unpadded", ["cat"], dir.uri, { pipeStdin: true }));
    expect(await client.call("process/write", { processId: "unpadded", chunk: "eA" })).toEqual({
      status: "accepted",
    });
    await client.call("process/closeStdin", { processId: "unpadded" });
    await client.untilClosed("unpadded");
    expect(client.outputText("unpadded")).toBe("x");
  });

  test.concurrent("process/write refuses an empty writeId", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("cat-1", ["cat"], dir.uri, { pipeStdin: true }));
    expect(await client.callError("process/write", { processId: "cat-1", chunk: "eA==", writeId: "" }))
      .toEqual({
        code: -32602,
        message: "writeId must not be empty",
        data: { kind: "InvalidParams" },
      });
    await client.call("process/terminate", { processId: "cat-1" });
  });

  test.concurrent.each(["not base64!", "eA= =", "e", "eA=x", "eB==", "eB"])(
    "process/write refuses the chunk %p",
    async (chunk) => {
      await using client = await server().session();
      const error = await client.callError("process/write", { processId: "any", chunk });
      expect([error.code, error.data, error.message.startsWith("invalid base64 in chunk: ")]).toEqual([
        -32602,
        { kind: "InvalidParams" },
        true,
      ]);
    },
  );

  test.concurrent("process/write pipelined right behind process/start is never lost", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    client.send({
      id: "s",
      method: "process/start",
      params: startParams("piped", ["cat"], dir.uri, { pipeStdin: true }),
    });
    client.send({
      id: "w",
      method: "process/write",
      params: { processId: "piped", chunk: b64("early\n"), writeId: "e" },
    });
    client.send({ id: "c", method: "process/closeStdin", params: { processId: "piped" } });
    expect((await client.replyTo("s"))["result"]).toEqual({ processId: "piped", sandboxType: "none" });
    expect((await client.replyTo("w"))["result"]).toEqual({ status: "accepted" });
    expect((await client.replyTo("c"))["result"]).toEqual({ status: "accepted" });
    await client.untilClosed("piped");
    expect(client.outputText("piped")).toBe("early\n");
  });

  test.concurrent("process/write keeps the order of many pipelined writes", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("order", ["cat"], dir.uri, { pipeStdin: true }));
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i}\n`);
    lines.forEach((line, i) =>
      client.send({ id: `w${i}`, method: "process/write", params: { processId: "order", chunk: b64(line) } })
    );
    client.send({ id: "close", method: "process/closeStdin", params: { processId: "order" } });
    await client.untilClosed("order");
    expect(client.outputText("order")).toBe(lines.join(""));
  });

  // 64 KiB writes are decoded into buffers that go back to a pool once a child's stdin has taken
  // them: none may take another write while its bytes still wait in a queue.
  test.concurrent("process/write keeps many pipelined 64 KiB writes to several children intact", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const ids = ["big-a", "big-b", "big-c", "big-d"];
    for (const id of ids) {
      await client.call("process/start", startParams(id, ["cat"], dir.uri, { pipeStdin: true }));
    }
    const expected = new Map<string, string>();
    for (const [p, id] of ids.entries()) {
      const blocks = Array.from({ length: 6 }, (_, w) => {
        const line = `${id} write ${w} ${"abcdefghijklmnopqrstuvwxyz"[(p * 6 + w) % 26]}`;
        return line.padEnd(64, ".").repeat(1024).slice(0, 65_535) + "\n";
      });
      expected.set(id, blocks.join(""));
      blocks.forEach((block, w) =>
        client.send({
          id: `${id}-${w}`,
          method: "process/write",
          params: { processId: id, chunk: b64(block), writeId: `w${w}` },
        })
      );
    }
    for (const id of ids) {
      client.send({ id: `${id}-close`, method: "process/closeStdin", params: { processId: id } });
    }
    for (const id of ids) {
      await client.untilClosed(id);
      expect(client.outputText(id) === expected.get(id)).toBe(true);
    }
  });

  test.concurrent("process/closeStdin gives the child end of file", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "cat; echo eof-seen"];
    await client.call(
      "process/start",
      startParams("eof", argv, dir.uri, { env: CHILD_PATH, pipeStdin: true }),
    );
    await client.call("process/write", { processId: "eof", chunk: b64("data\n") });
    expect(await client.call("process/closeStdin", { processId: "eof" })).toEqual({ status: "accepted" });
    const exited = (await client.untilClosed("eof")).find((event) => event.method === "process/exited");
    expect(exited?.method === "process/exited" ? exited.exitCode : null).toBe(0);
    expect(client.outputText("eof")).toBe("data\neof-seen\n");
  });

  test.concurrent("process/write after closeStdin answers stdinClosed", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("after", ["sleep", "30"], dir.uri, { pipeStdin: true }));
    await client.call("process/closeStdin", { processId: "after" });
    expect(await client.call("process/write", { processId: "after", chunk: b64("x") })).toEqual({
      status: "stdinClosed",
    });
    expect(await client.call("process/closeStdin", { processId: "after" })).toEqual({
      status: "stdinClosed",
    });
    await client.call("process/terminate", { processId: "after" });
  });

  test.concurrent("process/closeStdin answers unknownProcess for an unknown id", async () => {
    await using client = await server().session();
    expect(await client.call("process/closeStdin", { processId: "ghost" })).toEqual({
      status: "unknownProcess",
    });
  });

  test.concurrent("process/write answers stdinClosed once the child's reader is gone", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    // The shell closes its stdin and keeps running, so writes meet a pipe without a reader.
    const argv = ["sh", "-c", "exec 0<&-; echo closed; sleep 30"];
    await client.call(
      "process/start",
      startParams("gone", argv, dir.uri, { env: CHILD_PATH, pipeStdin: true }),
    );
    await client.waitForOutput("gone", "closed");
    let status = "accepted";
    for (let i = 0; i < 50 && status === "accepted"; i++) {
      status = String((await client.call("process/write", { processId: "gone", chunk: b64("x") }))["status"]);
    }
    expect(status).toBe("stdinClosed");
    await client.call("process/terminate", { processId: "gone" });
  });
});
