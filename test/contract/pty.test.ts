import { describe, expect, test } from "bun:test";
import { RUNTIMES } from "../helpers/server.ts";
import { b64, CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

function exitCodeOf(events: { method: string }[]): number | null {
  const exited = events.find((event) => event.method === "process/exited");
  return exited !== undefined && "exitCode" in exited ? Number(exited.exitCode) : null;
}

describe.each(RUNTIMES)("pty on %s", (runtime) => {
  const server = sharedServer(runtime);
  const tty = { tty: true, env: CHILD_PATH };

  test.concurrent("a terminal process reports the default size 24 rows by 80 columns", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("size", ["stty", "size"], dir.uri, tty));
    const events = await client.untilClosed("size");
    expect(client.outputText("size")).toBe("24 80\r\n");
    expect(
      events.filter((event) => event.method === "process/output").map((event) =>
        "stream" in event && event.stream
      ),
    )
      .toEqual(events.filter((event) => event.method === "process/output").map(() => "pty"));
  });

  test.concurrent("a terminal process starts at the requested size", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const params = startParams("sized", ["stty", "size"], dir.uri, { ...tty, size: { cols: 100, rows: 30 } });
    await client.call("process/start", params);
    await client.untilClosed("sized");
    expect(client.outputText("sized")).toBe("30 100\r\n");
  });

  test.concurrent("process/resize changes the size stty reports", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "stty size; read x; stty size"];
    await client.call(
      "process/start",
      startParams("t1", argv, dir.uri, { ...tty, size: { cols: 80, rows: 24 } }),
    );
    await client.waitForOutput("t1", "24 80\r\n");
    expect(await client.call("process/resize", { processId: "t1", cols: 132, rows: 50 })).toEqual({});
    expect(await client.call("process/write", { processId: "t1", chunk: b64("\n"), writeId: "k1" })).toEqual({
      status: "accepted",
    });
    await client.untilClosed("t1");
    expect(client.outputText("t1")).toBe("24 80\r\n\r\n50 132\r\n");
  });

  test.concurrent("a terminal echoes what cat reads and cat writes it back", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("cat", ["cat"], dir.uri, tty));
    await client.call("process/write", { processId: "cat", chunk: b64("hello\n") });
    await client.waitForOutput("cat", "hello\r\nhello\r\n");
    await client.call("process/terminate", { processId: "cat" });
  });

  test.concurrent("Ctrl-C on a terminal interrupts a sleep with exit code 130", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "echo ready; exec sleep 100"];
    await client.call("process/start", startParams("cc", argv, dir.uri, tty));
    await client.waitForOutput("cc", "ready");
    await client.call("process/write", { processId: "cc", chunk: b64("\x03") });
    expect(exitCodeOf(await client.untilClosed("cc"))).toBe(130);
  });

  test.concurrent("a terminal child sees arg0 as its argv[0] and exactly the env it was given", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = [
      "sh",
      "-c",
      "tr '\\000' ' ' < /proc/$$/cmdline; echo; tr '\\000' ' ' < /proc/$$/environ; echo",
    ];
    await client.call("process/start", startParams("a0", argv, dir.uri, { ...tty, arg0: "renamed" }));
    await client.untilClosed("a0");
    const [cmdline, environ] = client.outputText("a0").split("\r\n");
    expect(cmdline?.split(" ")[0]).toBe("renamed");
    expect(environ?.trim().split(" ").sort()).toEqual(
      Object.entries(CHILD_PATH).map(([k, v]) => `${k}=${v}`).sort(),
    );
  });

  test.concurrent("a terminal process reports its exit code", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("code", ["sh", "-c", "exit 7"], dir.uri, tty));
    expect(exitCodeOf(await client.untilClosed("code"))).toBe(7);
  });

  test.concurrent("process/closeStdin on a terminal gives cat end of file", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("eof", ["cat"], dir.uri, tty));
    await client.call("process/write", { processId: "eof", chunk: b64("line\n") });
    expect(await client.call("process/closeStdin", { processId: "eof" })).toEqual({ status: "accepted" });
    expect(exitCodeOf(await client.untilClosed("eof"))).toBe(0);
    expect(await client.call("process/write", { processId: "eof", chunk: b64("x") })).toEqual({
      status: "stdinClosed",
    });
  });

  test.concurrent("a terminal process is a session leader with the terminal as controlling tty", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "test -t 0 && test -t 1 && test -t 2 && ps -o sid= -p $$ && echo $$"];
    await client.call("process/start", startParams("lead", argv, dir.uri, tty));
    expect(exitCodeOf(await client.untilClosed("lead"))).toBe(0);
    const [sid, pid] = client.outputText("lead").trim().split(/\s+/);
    expect(sid).toBe(pid);
  });

  test.concurrent("process/resize of a pipe process is refused", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("pipe", ["sleep", "30"], dir.uri));
    expect(await client.callError("process/resize", { processId: "pipe", cols: 10, rows: 10 })).toEqual({
      code: -32600,
      message: "process pipe has no terminal",
      data: { kind: "NoTerminal" },
    });
    await client.call("process/terminate", { processId: "pipe" });
  });

  test.concurrent("process/resize of an unknown id is refused", async () => {
    await using client = await server().session();
    expect(await client.callError("process/resize", { processId: "ghost", cols: 10, rows: 10 })).toEqual({
      code: -32600,
      message: "unknown process id ghost",
      data: { kind: "UnknownProcess" },
    });
  });

  test.concurrent("process/resize of a closed terminal process answers {}", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("done", ["true"], dir.uri, tty));
    await client.untilClosed("done");
    expect(await client.call("process/resize", { processId: "done", cols: 10, rows: 10 })).toEqual({});
  });

  test.concurrent.each([0, 65536])("process/resize refuses %d columns", async (cols) => {
    await using client = await server().session();
    const error = await client.callError("process/resize", { processId: "any", cols, rows: 10 });
    expect([error.code, error.data]).toEqual([-32602, { kind: "InvalidParams" }]);
  });
});
