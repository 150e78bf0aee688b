import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { constants, deflateRawSync } from "node:zlib";
import { TestClient } from "../helpers/client.ts";
import { waitUntilDead } from "../helpers/proc.ts";
import { encodeFrame, RawSocket } from "../helpers/raw_socket.ts";
import type { RuntimeName } from "../helpers/server.ts";
import { RUNTIMES, serverCommand, startServer } from "../helpers/server.ts";
import { CHILD_PATH, sharedServer, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const TOKEN = "s3cret-capability-token";
const TOKEN_SHA256 = createHash("sha256").update(TOKEN).digest("hex");
const TOKEN_B64U = Buffer.from(TOKEN).toString("base64url");
/** The first reserved bit of a frame header: set on a message that permessage-deflate compressed. */
const RSV1 = 0x40;

describe.each(RUNTIMES)("http surface on %s", (runtime) => {
  const server = sharedServer(runtime, ["--allow-origin", "https://ide.example.com"]);

  test.concurrent.each(["/readyz", "/livez"])("GET %s answers 200 with an empty body", async (path) => {
    const response = await fetch(server().httpUrl + path);
    expect([response.status, await response.text()]).toEqual([200, ""]);
  });

  test.concurrent("GET /metrics answers Prometheus text", async () => {
    const response = await fetch(server().httpUrl + "/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4");
    expect(await response.text()).toMatch(/^# TYPE exec_server_\w+ (counter|gauge)$/m);
  });

  test("/metrics counts requests and error replies by code", async () => {
    await using client = await server().session();
    await client.callError("no/such-method", {});
    const text = await (await fetch(server().httpUrl + "/metrics")).text();
    expect(text).toMatch(/^exec_server_requests_total [1-9]\d*$/m);
    expect(text).toMatch(/^exec_server_request_errors_total\{code="-32601"\} [1-9]\d*$/m);
  });

  test.concurrent("GET / without an upgrade answers 400 with a short text", async () => {
    const response = await fetch(server().httpUrl + "/");
    expect(response.status).toBe(400);
    expect((await response.text()).length).toBeGreaterThan(0);
  });

  test.concurrent.each(["/readyz", "/livez", "/metrics"])("POST %s answers 405", async (path) => {
    const response = await fetch(server().httpUrl + path, { method: "POST" });
    await response.body?.cancel();
    expect(response.status).toBe(405);
  });

  test.concurrent("an unknown path answers 404", async () => {
    const response = await fetch(server().httpUrl + "/nope");
    await response.body?.cancel();
    expect(response.status).toBe(404);
  });

  test.concurrent("an upgrade on another path answers 404", async () => {
    await using socket = await RawSocket.upgrade(server().url, { path: "/other" });
    expect(socket.head.status).toBe(404);
  });

  test.concurrent("an upgrade with a foreign Origin answers 403", async () => {
    await using socket = await RawSocket.upgrade(server().url, {
      headers: { Origin: "https://evil.example.com" },
    });
    expect(socket.head.status).toBe(403);
  });

  test.concurrent("an upgrade with an allowed Origin in another case is admitted", async () => {
    await using socket = await RawSocket.upgrade(server().url, {
      headers: { Origin: "HTTPS://IDE.example.com" },
    });
    expect(socket.head.status).toBe(101);
  });

  test.concurrent("an upgrade offering exec-server.v1 selects it", async () => {
    await using socket = await RawSocket.upgrade(server().url, {
      headers: { "Sec-WebSocket-Protocol": "other, exec-server.v1" },
    });
    expect([socket.head.status, socket.head.headers["sec-websocket-protocol"]]).toEqual([
      101,
      "exec-server.v1",
    ]);
  });

  test.concurrent("an upgrade not offering exec-server.v1 gets no subprotocol", async () => {
    await using socket = await RawSocket.upgrade(server().url, {
      headers: { "Sec-WebSocket-Protocol": "other" },
    });
    expect([socket.head.status, socket.head.headers["sec-websocket-protocol"]]).toEqual([101, undefined]);
  });

  test.concurrent("an upgrade without any subprotocol gets none", async () => {
    await using socket = await RawSocket.upgrade(server().url);
    expect([socket.head.status, socket.head.headers["sec-websocket-protocol"]]).toEqual([101, undefined]);
  });

  test.concurrent("an upgrade offering permessage-deflate is accepted", async () => {
    await using socket = await RawSocket.upgrade(server().url, {
      headers: { "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits" },
    });
    expect(socket.head.status).toBe(101);
  });

  test.concurrent("a compressed message is refused, not inflated: no permessage-deflate is negotiated", async () => {
    // A few KiB of deflate inflate to MiBs: negotiated, the extension would let a client make
    // the server hold --max-message-bytes per connection for a thousandth of the bytes.
    await using socket = await RawSocket.upgrade(server().url, {
      headers: { "Sec-WebSocket-Extensions": "permessage-deflate" },
    });
    expect(socket.head.headers["sec-websocket-extensions"]).toBeUndefined();
    const request = `{"id":1,"method":"environment/info","params":{"pad":"${"a".repeat(4 * 1024 * 1024)}"}}`;
    const deflated = deflateRawSync(request, { flush: constants.Z_SYNC_FLUSH });
    const frame = encodeFrame(1, deflated.subarray(0, deflated.byteLength - 4));
    frame[0] = (frame[0] ?? 0) | RSV1;
    socket.socket.write(frame);
    await socket.ended;
    expect(socket.messages()).toEqual([]);
  });
});

describe.each(RUNTIMES)("capability token on %s", (runtime) => {
  const byDigest = sharedServer(runtime, [
    "--ws-auth",
    "capability-token",
    "--ws-token-sha256",
    TOKEN_SHA256,
  ]);

  test.concurrent("an upgrade without a token answers 401 with WWW-Authenticate Bearer", async () => {
    await using socket = await RawSocket.upgrade(byDigest().url);
    expect([socket.head.status, socket.head.headers["www-authenticate"], socket.head.body]).toEqual([
      401,
      "Bearer",
      "",
    ]);
  });

  test.concurrent("an upgrade with a wrong token answers 401", async () => {
    await using socket = await RawSocket.upgrade(byDigest().url, {
      headers: { Authorization: "Bearer wrong" },
    });
    expect([socket.head.status, socket.head.headers["www-authenticate"]]).toEqual([401, "Bearer"]);
  });

  test.concurrent("an upgrade with a wrong subprotocol token answers 401", async () => {
    const protocol = `exec-server.v1, exec-server.bearer.${Buffer.from("wrong").toString("base64url")}`;
    await using socket = await RawSocket.upgrade(byDigest().url, {
      headers: { "Sec-WebSocket-Protocol": protocol },
    });
    expect(socket.head.status).toBe(401);
  });

  test.concurrent("an upgrade with the token in the Authorization header is admitted", async () => {
    await using client = await TestClient.connect(byDigest().url, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    await client.initialize();
    expect(await client.call("process/list", {})).toEqual({ processes: [] });
  });

  test.concurrent("an upgrade with the token as a subprotocol entry is admitted and selects exec-server.v1", async () => {
    await using socket = await RawSocket.upgrade(byDigest().url, {
      headers: { "Sec-WebSocket-Protocol": `exec-server.v1, exec-server.bearer.${TOKEN_B64U}` },
    });
    expect([socket.head.status, socket.head.headers["sec-websocket-protocol"]]).toEqual([
      101,
      "exec-server.v1",
    ]);
  });

  test.concurrent("/readyz needs no token", async () => {
    const response = await fetch(byDigest().httpUrl + "/readyz");
    expect(response.status).toBe(200);
  });

  test.concurrent("/metrics needs the token", async () => {
    const refused = await fetch(byDigest().httpUrl + "/metrics");
    await refused.body?.cancel();
    const admitted = await fetch(byDigest().httpUrl + "/metrics", {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    await admitted.body?.cancel();
    expect([refused.status, refused.headers.get("www-authenticate"), admitted.status]).toEqual([
      401,
      "Bearer",
      200,
    ]);
  });

  test.concurrent("--ws-token-file reads the token without its trailing whitespace", async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "token");
    await writeFile(file, `${TOKEN}\n\n`);
    await using server = await startServer({
      runtime,
      args: ["--ws-auth", "capability-token", "--ws-token-file", file],
    });
    await using refused = await RawSocket.upgrade(server.url, {
      headers: { Authorization: `Bearer ${TOKEN}x` },
    });
    await using admitted = await RawSocket.upgrade(server.url, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect([refused.head.status, admitted.head.status]).toEqual([401, 101]);
  });
});

/** Runs the CLI to completion; resolves with its exit code and output. */
function runCli(
  runtime: RuntimeName,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [command, ...rest] = serverCommand(runtime);
  const child = spawn(command ?? "", [...rest, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
  child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

describe.each(RUNTIMES)("command line on %s", (runtime) => {
  test.concurrent.each([
    [["--nope"], "unknown flag --nope"],
    [["--listen", "http://127.0.0.1:0"], "--listen: expected ws://HOST:PORT or stdio"],
    [["--listen", "ws://0.0.0.0:0"], "refusing to listen on 0.0.0.0 without authentication"],
    [["--ws-auth", "capability-token", "--ws-token-file", "/nonexistent/token"], "--ws-token-file"],
  ])("the command line %p exits 2 with a one-line reason", async (args, reason) => {
    const result = await runCli(runtime, args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n").length).toBe(1);
    expect(result.stderr).toContain(reason);
  });

  test.concurrent("a token file it cannot read is refused before anything is set up", async () => {
    // Set up, the server would first make its state directory here, and fail on that instead.
    const result = await runCli(
      runtime,
      ["--ws-auth", "capability-token", "--ws-token-file", "/nonexistent/token"],
      { XDG_RUNTIME_DIR: "/nonexistent/runtime-dir" },
    );
    expect({ code: result.code, lines: result.stderr.trim().split("\n").length }).toEqual({
      code: 2,
      lines: 1,
    });
    expect(result.stderr).toContain("--ws-token-file /nonexistent/token");
  });

  test.concurrent("--help lists every flag", async () => {
    const result = await runCli(runtime, ["--help"]);
    expect(result.code).toBe(0);
    for (
      const flag of [
        "--listen",
        "--session-ttl",
        "--process-retention",
        "--retained-output-bytes",
        "--ws-auth",
      ]
    ) {
      expect(result.stdout).toContain(flag);
    }
  });

  test.concurrent("the first stdout line is the bound URL", async () => {
    await using server = await startServer({ runtime });
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:[1-9]\d*$/);
  });

  test.concurrent("SIGTERM exits 0 and kills every process group", async () => {
    await using dir = await tempDir();
    const server = await startServer({ runtime });
    const client = await server.session();
    const argv = ["sh", "-c", "sleep 300 & echo $!; wait"];
    await client.call("process/start", startParams("tree", argv, dir.uri, { env: CHILD_PATH }));
    await client.waitForOutput("tree", "\n");
    const grandchild = Number(client.outputText("tree").trim());
    const { processes } = (await client.call("process/list", {})) as { processes: { pid: number }[] };
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect((await client.closed).code).toBeOneOf([1001, 1006]);
    await waitUntilDead(processes[0]?.pid ?? 0);
    await waitUntilDead(grandchild);
  });

  test.concurrent("SIGTERM exits 0 while a peer holds a request whose body has not all come", async () => {
    // Deno's graceful shutdown waits for the request to finish, which only the peer can do: the
    // server was still running 40 s after the signal.
    const server = await startServer({ runtime });
    const { hostname, port } = new URL(server.httpUrl);
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise((resolve) => socket.once("connect", resolve));
    const answered = new Promise((resolve) => socket.once("data", resolve));
    socket.write(`POST /readyz HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Length: 1000000\r\n\r\nabc`);
    try {
      await answered;
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    } finally {
      socket.destroy();
      server.child.kill("SIGKILL");
    }
  }, 20_000);
});
