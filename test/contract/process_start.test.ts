import { describe, expect, test } from "bun:test";
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import type { ProcessEvent } from "../helpers/client.ts";
import { RUNTIMES, serverCommand, startServer, TEST_RUNTIME_ENV } from "../helpers/server.ts";
import { CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const POLICY = { inherit: "all", ignoreDefaultExcludes: false, exclude: [], set: {}, includeOnly: [] };

/** Writes an executable shell script. */
async function script(path: string, body: string): Promise<void> {
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
}

function sortedLines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "").sort();
}

describe.each(RUNTIMES)("process/start on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("process/start reports output, exit code 3 and closed in seq order", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const result = await client.call(
      "process/start",
      startParams("p1", ["sh", "-c", "echo hi; exit 3"], dir.uri),
    );
    expect(result).toEqual({ processId: "p1", sandboxType: "none" });
    // Output read after the exit status is known comes after exited (§5.4): both orders are valid.
    const events = await client.untilClosed("p1");
    const exitedFirst = events[0]?.method === "process/exited";
    const expected: ProcessEvent[] = [
      { method: "process/output", seq: exitedFirst ? 2 : 1, stream: "stdout", text: "hi\n" },
      { method: "process/exited", seq: exitedFirst ? 1 : 2, exitCode: 3, sandboxDenied: false },
      { method: "process/closed", seq: 3 },
    ];
    expect(events).toEqual(expected.sort((a, b) => a.seq - b.seq));
  });

  test.concurrent("process/start sends its result before any notification of the process", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const ids = Array.from({ length: 20 }, (_, i) => `first-${i}`);
    for (const id of ids) {
      client.send({ id, method: "process/start", params: startParams(id, ["echo", "x"], dir.uri) });
    }
    await Promise.all(ids.map((id) => client.untilClosed(id)));
    for (const id of ids) {
      const reply = client.messages.findIndex((message) => message["id"] === id);
      const firstEvent = client.messages.findIndex((message) =>
        (message["params"] as Record<string, unknown> | undefined)?.["processId"] === id
      );
      expect([id, reply >= 0 && reply < firstEvent]).toEqual([id, true]);
    }
  });

  test.concurrent("process/start separates stdout and stderr", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call(
      "process/start",
      startParams("streams", ["sh", "-c", "echo out; echo err >&2"], dir.uri),
    );
    const events = await client.untilClosed("streams");
    const outputs = events.flatMap((event) =>
      event.method === "process/output" ? [[event.stream, event.text]] : []
    );
    expect(outputs.sort()).toEqual([["stderr", "err\n"], ["stdout", "out\n"]]);
  });

  test.concurrent("process/start reports 128 + N for a death by signal", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("sig", ["sh", "-c", "kill -TERM $$"], dir.uri));
    expect(await client.untilClosed("sig")).toEqual([
      { method: "process/exited", seq: 1, exitCode: 143, sandboxDenied: false },
      { method: "process/closed", seq: 2 },
    ]);
  });

  test.concurrent("process/start gives an empty environment for env {}", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("env0", ["env"], dir.uri));
    expect(await client.untilClosed("env0")).toEqual([
      { method: "process/exited", seq: 1, exitCode: 0, sandboxDenied: false },
      { method: "process/closed", seq: 2 },
    ]);
  });

  test.concurrent("process/start gives exactly the env of the request without envPolicy", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call(
      "process/start",
      startParams("env1", ["env"], dir.uri, { env: { A: "1", B: "two words" } }),
    );
    await client.untilClosed("env1");
    expect(sortedLines(client.outputText("env1"))).toEqual(["A=1", "B=two words"]);
  });

  test.concurrent("process/start finds argv[0] in the server's PATH when the child has none", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("true", ["true"], dir.uri));
    expect(await client.untilClosed("true")).toEqual([
      { method: "process/exited", seq: 1, exitCode: 0, sandboxDenied: false },
      { method: "process/closed", seq: 2 },
    ]);
  });

  test.concurrent("process/start searches the child's PATH, not the server's", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    expect(
      await client.callError(
        "process/start",
        startParams("nopath", ["true"], dir.uri, { env: { PATH: dir.path } }),
      ),
    )
      .toEqual({
        code: -32603,
        message: "program true: No such file or directory (os error 2)",
        data: { kind: "SpawnFailed", errno: "ENOENT" },
      });
  });

  test.concurrent("process/start finds a program in a directory of the child's PATH", async () => {
    await using dir = await tempDir();
    await mkdir(join(dir.path, "bin"));
    await script(join(dir.path, "bin", "hello-tool"), "echo found");
    await using client = await server().session();
    const env = { PATH: `/nonexistent:${join(dir.path, "bin")}` };
    await client.call("process/start", startParams("tool", ["hello-tool"], dir.uri, { env }));
    await client.untilClosed("tool");
    expect(client.outputText("tool")).toBe("found\n");
  });

  test.concurrent("process/start reads an empty PATH entry as cwd", async () => {
    await using dir = await tempDir();
    await script(join(dir.path, "here-tool"), "echo here");
    await using client = await server().session();
    await client.call(
      "process/start",
      startParams("cwdpath", ["here-tool"], dir.uri, { env: { PATH: "/nonexistent:" } }),
    );
    await client.untilClosed("cwdpath");
    expect(client.outputText("cwdpath")).toBe("here\n");
  });

  test.concurrent("process/start resolves a relative argv[0] with a slash against cwd", async () => {
    await using dir = await tempDir();
    await mkdir(join(dir.path, "bin"));
    await script(join(dir.path, "bin", "tool"), "echo relative");
    await using client = await server().session();
    await client.call("process/start", startParams("rel", ["./bin/tool"], dir.uri));
    await client.untilClosed("rel");
    expect(client.outputText("rel")).toBe("relative\n");
  });

  test.concurrent("process/start shows arg0 to the child as its argv[0]", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "tr '\\000' '\\n' < /proc/$$/cmdline | head -n 1"];
    await client.call(
      "process/start",
      startParams("arg0", argv, dir.uri, { env: CHILD_PATH, arg0: "renamed" }),
    );
    await client.untilClosed("arg0");
    expect(client.outputText("arg0")).toBe("renamed\n");
  });

  test.concurrent("process/start shows argv[0] as requested without arg0", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "tr '\\000' '\\n' < /proc/$$/cmdline | head -n 1"];
    await client.call("process/start", startParams("noarg0", argv, dir.uri, { env: CHILD_PATH }));
    await client.untilClosed("noarg0");
    expect(client.outputText("noarg0")).toBe("sh\n");
  });

  test.concurrent("process/start shows a bare argv[0] as requested when the child has no PATH", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const argv = ["sh", "-c", "echo $0; cat /proc/$$/environ | tr '\\000' '\\n'"];
    await client.call("process/start", startParams("nopath", argv, dir.uri, { env: { ONLY: "me" } }));
    await client.untilClosed("nopath");
    expect(client.outputText("nopath")).toBe("sh\nONLY=me\n");
  });

  test.concurrent("process/start refuses a missing cwd", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const missing = join(dir.path, "missing");
    expect(await client.callError("process/start", startParams("nocwd", ["true"], pathToUri(missing))))
      .toEqual({
        code: -32603,
        message: `cwd ${missing}: No such file or directory (os error 2)`,
        data: { kind: "SpawnFailed", errno: "ENOENT" },
      });
  });

  test.concurrent("process/start names a missing cwd whatever the program and the start's kind", async () => {
    // The cwd of a direct start is checked only once the lookup or the spawn has failed.
    await using dir = await tempDir();
    await using client = await server().session();
    const missing = join(dir.path, "missing");
    const error = {
      code: -32603,
      message: `cwd ${missing}: No such file or directory (os error 2)`,
      data: { kind: "SpawnFailed", errno: "ENOENT" },
    };
    const cwd = pathToUri(missing);
    expect(await client.callError("process/start", startParams("abs", ["/bin/true"], cwd))).toEqual(error);
    expect(await client.callError("process/start", startParams("rel", ["./true"], cwd))).toEqual(error);
    expect(await client.callError("process/start", startParams("tty", ["/bin/true"], cwd, { tty: true })))
      .toEqual(error);
  });

  test.concurrent("process/start refuses a cwd that is a file", async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "file");
    await writeFile(file, "x");
    await using client = await server().session();
    expect(await client.callError("process/start", startParams("filecwd", ["true"], file))).toEqual({
      code: -32603,
      message: `cwd ${file}: Not a directory (os error 20)`,
      data: { kind: "SpawnFailed", errno: "ENOTDIR" },
    });
  });

  test.concurrent("process/start refuses a program that is not on PATH", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    expect(await client.callError("process/start", startParams("missing", ["no-such-program-xyz"], dir.uri)))
      .toEqual({
        code: -32603,
        message: "program no-such-program-xyz: No such file or directory (os error 2)",
        data: { kind: "SpawnFailed", errno: "ENOENT" },
      });
  });

  test.concurrent("process/start stops its PATH search at an entry that fails otherwise than not found", async () => {
    // As the reference's execvp (musl) does: a symbolic link loop, or a file that is no
    // executable, ends the search; a missing directory is passed over (the program is in /usr/bin).
    await using dir = await tempDir();
    await symlink("loop", join(dir.path, "loop"));
    await mkdir(join(dir.path, "garbage"));
    await writeFile(join(dir.path, "garbage", "echo"), "no shebang, no ELF\n", { mode: 0o755 });
    await using client = await server().session();
    const searched = (first: string) =>
      startParams(first, ["echo", "found"], dir.uri, { env: { PATH: `${dir.path}/${first}:/usr/bin:/bin` } });
    expect(await client.callError("process/start", searched("loop"))).toEqual({
      code: -32603,
      message: "program echo: Too many levels of symbolic links (os error 40)",
      data: { kind: "SpawnFailed", errno: "ELOOP" },
    });
    expect(await client.callError("process/start", searched("garbage"))).toEqual({
      code: -32603,
      message: "program echo: Exec format error (os error 8)",
      data: { kind: "SpawnFailed", errno: "ENOEXEC" },
    });
    await client.call("process/start", searched("missing"));
    await client.untilClosed("missing");
    expect(client.outputText("missing")).toBe("found\n");
  });

  test.concurrent("process/start refuses a program that is not executable", async () => {
    await using dir = await tempDir();
    const program = join(dir.path, "plain");
    await writeFile(program, "echo no\n");
    await chmod(program, 0o644);
    await using client = await server().session();
    expect(await client.callError("process/start", startParams("noexec", [program], dir.uri))).toEqual({
      code: -32603,
      message: `program ${program}: Permission denied (os error 13)`,
      data: { kind: "SpawnFailed", errno: "EACCES" },
    });
  });

  test.concurrent("process/start refuses a file that is not a valid executable", async () => {
    await using dir = await tempDir();
    const program = join(dir.path, "garbage");
    await writeFile(program, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 0]));
    await chmod(program, 0o755);
    await using client = await server().session();
    expect(await client.callError("process/start", startParams("badexec", [program], dir.uri))).toEqual({
      code: -32603,
      message: `program ${program}: Exec format error (os error 8)`,
      data: { kind: "SpawnFailed", errno: "ENOEXEC" },
    });
  });

  test.concurrent("process/start leaves no entry behind when the spawn fails", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.callError("process/start", startParams("again", ["no-such-program-xyz"], dir.uri));
    expect(await client.call("process/list", {})).toEqual({ processes: [] });
    await client.call("process/start", startParams("again", ["true"], dir.uri));
    await client.untilClosed("again");
  });

  test.concurrent("process/start refuses an empty argv", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    expect(await client.callError("process/start", startParams("e", [], dir.uri))).toEqual({
      code: -32602,
      message: "argv must not be empty",
      data: { kind: "InvalidParams" },
    });
  });

  test.concurrent("process/start refuses an empty argv[0]", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    expect(await client.callError("process/start", startParams("e", ["", "x"], dir.uri))).toEqual({
      code: -32602,
      message: "argv[0] must not be empty",
      data: { kind: "InvalidParams" },
    });
  });

  test.concurrent("process/start refuses an id that is running", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("dup", ["sleep", "30"], dir.uri));
    expect(await client.callError("process/start", startParams("dup", ["true"], dir.uri))).toEqual({
      code: -32600,
      message: "process dup already exists",
      data: { kind: "ProcessExists" },
    });
    await client.call("process/terminate", { processId: "dup" });
  });

  test.concurrent("process/start refuses an id whose process is closed but retained", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("kept", ["true"], dir.uri));
    await client.untilClosed("kept");
    expect(await client.callError("process/start", startParams("kept", ["true"], dir.uri))).toEqual({
      code: -32600,
      message: "process kept already exists",
      data: { kind: "ProcessExists" },
    });
  });

  test.concurrent("process/start refuses the second of two pipelined starts with one id", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    client.send({ id: "a", method: "process/start", params: startParams("twin", ["true"], dir.uri) });
    client.send({ id: "b", method: "process/start", params: startParams("twin", ["true"], dir.uri) });
    expect((await client.replyTo("a"))["result"]).toEqual({ processId: "twin", sandboxType: "none" });
    expect((await client.replyTo("b"))["error"]).toEqual({
      code: -32600,
      message: "process twin already exists",
      data: { kind: "ProcessExists" },
    });
  });

  test.concurrent("process/start scopes ids to the session", async () => {
    await using dir = await tempDir();
    await using first = await server().session();
    await using second = await server().session();
    await first.call("process/start", startParams("same", ["true"], dir.uri));
    await second.call("process/start", startParams("same", ["true"], dir.uri));
    await Promise.all([first.untilClosed("same"), second.untilClosed("same")]);
  });

  test.concurrent("process/start refuses an env name containing =", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const error = await client.callError(
      "process/start",
      startParams("eq", ["true"], dir.uri, { env: { "A=B": "1" } }),
    );
    expect([error.code, error.data]).toEqual([-32602, { kind: "InvalidParams" }]);
  });

  test.concurrent("process/start refuses an empty env name", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const error = await client.callError(
      "process/start",
      startParams("eq", ["true"], dir.uri, { env: { "": "1" } }),
    );
    expect([error.code, error.data]).toEqual([-32602, { kind: "InvalidParams" }]);
  });

  test.concurrent.each(["managedNetwork", "networkProxy", "shellSnapshot"])(
    "process/start refuses a non-null %s",
    async (field) => {
      await using dir = await tempDir();
      await using client = await server().session();
      expect(await client.callError("process/start", startParams("net", ["true"], dir.uri, { [field]: {} })))
        .toEqual({
          code: -32602,
          message: `${field} is not supported by this server`,
          data: { kind: "InvalidParams" },
        });
    },
  );

  test.concurrent("process/start accepts null managedNetwork, networkProxy, shellSnapshot and metadata", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const extra = {
      managedNetwork: null,
      networkProxy: null,
      shellSnapshot: null,
      metadata: { threadId: "t" },
    };
    await client.call(
      "process/start",
      startParams("nulls", ["true"], dir.uri, { ...extra, unknownMember: 1 }),
    );
    await client.untilClosed("nulls");
  });

  // §5.1: `metadata?: object | null`; the reference refuses a scalar too (found by protocol_fuzz.ts).
  test.concurrent.each([["a string", "m"], ["a number", 1], ["a boolean", true], ["an array", []]])(
    "process/start refuses metadata that is %s",
    async (_what, metadata) => {
      await using dir = await tempDir();
      await using client = await server().session();
      const error = await client.callError(
        "process/start",
        startParams("meta", ["true"], dir.uri, { metadata }),
      );
      expect([
        error.code,
        error.message.startsWith("invalid params for process/start: metadata: "),
        error.data,
      ])
        .toEqual([-32602, true, { kind: "InvalidParams" }]);
      expect(await client.call("process/list", {})).toEqual({ processes: [] });
    },
  );

  test.concurrent("process/start accepts metadata {} and ignores what it holds", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("m1", ["true"], dir.uri, { metadata: {} }));
    await client.call(
      "process/start",
      startParams("m2", ["true"], dir.uri, { metadata: { threadId: 1, callId: ["x"], other: null } }),
    );
    await Promise.all([client.untilClosed("m1"), client.untilClosed("m2")]);
  });

  test.concurrent("process/start refuses size without a terminal", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    expect(
      await client.callError(
        "process/start",
        startParams("sz", ["true"], dir.uri, { size: { cols: 10, rows: 5 } }),
      ),
    )
      .toEqual({ code: -32602, message: "size requires tty: true", data: { kind: "InvalidParams" } });
  });

  test.concurrent("process/start refuses a null pipeStdin", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const error = await client.callError(
      "process/start",
      startParams("ps", ["true"], dir.uri, { pipeStdin: null }),
    );
    expect([error.code, error.data]).toEqual([-32602, { kind: "InvalidParams" }]);
  });

  test.concurrent("process/start refuses a relative cwd", async () => {
    await using client = await server().session();
    expect(await client.callError("process/start", startParams("r", ["true"], "rel/dir"))).toEqual({
      code: -32602,
      message: 'cwd must be an absolute path or file URI, got "rel/dir"',
      data: { kind: "InvalidParams" },
    });
  });

  test.concurrent("process/start refuses a processId longer than 1024 bytes", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const error = await client.callError("process/start", startParams("é".repeat(513), ["true"], dir.uri));
    expect([error.code, error.data]).toEqual([-32602, { kind: "InvalidParams" }]);
  });

  test.concurrent("process/start accepts a native cwd path", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await client.call("process/start", startParams("native", ["sh", "-c", "pwd"], dir.path));
    await client.untilClosed("native");
    expect(client.outputText("native")).toBe(`${dir.path}\n`);
  });

  test.concurrent("process/start decodes a percent-encoded file URI cwd", async () => {
    await using dir = await tempDir();
    const spaced = join(dir.path, "a b");
    await mkdir(spaced);
    await using client = await server().session();
    const uri = pathToUri(spaced);
    expect(uri).toContain("%20");
    await client.call("process/start", startParams("spaced", ["sh", "-c", "pwd"], uri));
    await client.untilClosed("spaced");
    expect(client.outputText("spaced")).toBe(`${spaced}\n`);
  });
});

describe.each(RUNTIMES)("process/start envPolicy on %s", (runtime) => {
  const SERVER_ENV = { KEEP: "k", MY_TOKEN: "t", NODE_REPL_AUTH_TOKEN: "n", LANG: "C" };
  // One server with that environment for every case: each opens its own session.
  const server = sharedServer(runtime, [], SERVER_ENV);

  test.concurrent("process/start applies envPolicy to the server environment and overlays env", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const envPolicy = { ...POLICY, inherit: "all", exclude: ["HOME"], set: { SET: "s" } };
    await client.call(
      "process/start",
      startParams("pol", ["env"], dir.uri, { envPolicy, env: { OVER: "o" } }),
    );
    await client.untilClosed("pol");
    expect(sortedLines(client.outputText("pol"))).toEqual(
      [
        ...Object.entries(TEST_RUNTIME_ENV).map(([name, value]) => `${name}=${value}`),
        "KEEP=k",
        "LANG=C",
        "OVER=o",
        `PATH=${process.env["PATH"] ?? "/usr/bin:/bin"}`,
        "SET=s",
      ].sort(),
    );
  });

  test.concurrent("process/start with inherit core keeps only core names", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const envPolicy = { ...POLICY, inherit: "core", includeOnly: ["LANG", "K*"] };
    await client.call("process/start", startParams("core", ["env"], dir.uri, { envPolicy }));
    await client.untilClosed("core");
    expect(sortedLines(client.outputText("core"))).toEqual(["LANG=C"]);
  });

  test.concurrent("process/start scrubs launch secrets even when set and overlay name them", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const envPolicy = {
      ...POLICY,
      inherit: "none",
      ignoreDefaultExcludes: true,
      set: { NODE_REPL_AUTH_TOKEN: "s" },
    };
    const env = { OPENAI_IDENTITY_TOKEN_FILE: "f", VISIBLE: "v" };
    await client.call("process/start", startParams("scrub", ["env"], dir.uri, { envPolicy, env }));
    await client.untilClosed("scrub");
    expect(sortedLines(client.outputText("scrub"))).toEqual(["VISIBLE=v"]);
  });

  test.concurrent("process/start sets a variable named __proto__ from envPolicy.set", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const set = JSON.parse('{"__proto__":"SP","B":"2"}') as Record<string, string>;
    const envPolicy = { ...POLICY, inherit: "none", ignoreDefaultExcludes: true, set };
    await client.call("process/start", startParams("set", ["env"], dir.uri, { envPolicy, env: { A: "1" } }));
    await client.untilClosed("set");
    expect(sortedLines(client.outputText("set"))).toEqual(["A=1", "B=2", "__proto__=SP"]);
  });

  test.concurrent("process/start with inherit all passes a server variable named __proto__", async () => {
    // env(1) sets it: a spawn from this test process would leave the name out.
    await using own = await startServer({
      runtime,
      command: ["/usr/bin/env", "__proto__=sp", ...serverCommand(runtime)],
    });
    await using dir = await tempDir();
    await using client = await own.session();
    const envPolicy = { ...POLICY, inherit: "all", includeOnly: ["__proto__"] };
    await client.call("process/start", startParams("inherit", ["env"], dir.uri, { envPolicy }));
    await client.untilClosed("inherit");
    expect(sortedLines(client.outputText("inherit"))).toEqual(["__proto__=sp"]);
  });

  test.concurrent("process/start refuses a malformed envPolicy naming the member", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    const envPolicy = { ...POLICY, inherit: "ALL" };
    const error = await client.callError(
      "process/start",
      startParams("bad", ["env"], dir.uri, { envPolicy }),
    );
    expect([error.code, error.message.includes("envPolicy.inherit")]).toEqual([-32602, true]);
  });
});
