import { describe, expect, test } from "bun:test";
import { defaultOptions, parseCommandLine, UsageError } from "../../src/server/mod.ts";
import type { ServerOptions } from "../../src/server/mod.ts";

function usageError(args: string[]): string {
  try {
    parseCommandLine(args);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`${args.join(" ")} was accepted`);
}

function options(args: string[]): ServerOptions {
  const command = parseCommandLine(args);
  if (command.kind !== "serve") throw new Error(`not a serve command: ${command.kind}`);
  return command.options;
}

describe("parseCommandLine", () => {
  test("parseCommandLine defaults to a loopback WebSocket on port 0", () => {
    expect(parseCommandLine([])).toEqual({ kind: "serve", options: defaultOptions() });
    expect(defaultOptions().listen).toEqual({ kind: "websocket", hostname: "127.0.0.1", port: 0 });
  });

  test("parseCommandLine reads --listen ws://HOST:PORT", () => {
    expect(options(["--listen", "ws://127.0.0.1:4321"]).listen).toEqual({
      kind: "websocket",
      hostname: "127.0.0.1",
      port: 4321,
    });
  });

  test.each(["stdio", "stdio://"])("parseCommandLine reads --listen %s as stdio", (value) => {
    expect(options(["--listen", value]).listen).toEqual({ kind: "stdio" });
  });

  test("parseCommandLine accepts the --flag=value form", () => {
    expect(options(["--session-ttl=0.5"]).sessionTtlMs).toBe(500);
  });

  test("parseCommandLine reads fractional seconds", () => {
    const parsed = options(["--session-ttl", "0.5", "--process-retention", "0.3", "--kill-grace", "1.25"]);
    expect([parsed.sessionTtlMs, parsed.processRetentionMs, parsed.killGraceMs]).toEqual([500, 300, 1250]);
  });

  test("parseCommandLine reads the default limits of every process", () => {
    expect(
      options(["--default-memory-bytes", "1048576", "--default-pids", "64", "--default-cpu-seconds", "1.5"])
        .defaultLimits,
    ).toEqual({ memoryBytes: 1_048_576, pids: 64, cpuSeconds: 1.5 });
  });

  test.each([
    [["--default-pids", "0"], "--default-pids: expected a positive integer, got 0"],
    [["--default-memory-bytes", "1e6"], "--default-memory-bytes: expected a positive integer, got 1e6"],
    [["--default-cpu-seconds", "-1"], "--default-cpu-seconds: expected a positive number, got -1"],
  ])("parseCommandLine refuses %p", (args, message) => {
    expect(usageError(args)).toBe(message);
  });

  test("parseCommandLine reads byte counts", () => {
    expect(options(["--retained-output-bytes", "4096"]).retainedOutputBytes).toBe(4096);
  });

  test("parseCommandLine collects repeated --allow-origin values", () => {
    expect(
      options(["--allow-origin", "https://a.example", "--allow-origin", "https://b.example"]).allowOrigins,
    )
      .toEqual(["https://a.example", "https://b.example"]);
  });

  test("parseCommandLine reads a token digest in lowercase", () => {
    const digest = "AB".repeat(32);
    expect(options(["--ws-auth", "capability-token", "--ws-token-sha256", digest]).auth).toEqual({
      tokenFile: null,
      tokenSha256: digest.toLowerCase(),
    });
  });

  test("parseCommandLine answers --help and --version", () => {
    expect(parseCommandLine(["--help"])).toEqual({ kind: "help" });
    expect(parseCommandLine(["--version"])).toEqual({ kind: "version" });
  });

  test("parseCommandLine refuses an unknown flag", () => {
    expect(usageError(["--nope"])).toBe("unknown flag --nope (see --help)");
  });

  test("parseCommandLine refuses a flag without its value", () => {
    expect(usageError(["--listen"])).toBe("--listen needs a value");
  });

  test.each([
    "http://127.0.0.1:1",
    "ws://127.0.0.1",
    "ws://127.0.0.1:99999",
    "ws://:1",
    "127.0.0.1:1",
    "ws://127.0.0.1:1/path",
  ])("parseCommandLine refuses the listen URL %s", (url) => {
    expect(usageError(["--listen", url])).toBe(`--listen: expected ws://HOST:PORT or stdio, got ${url}`);
  });

  test.each(["0.0.0.0", "192.168.1.10", "[::]"])(
    "parseCommandLine refuses the non-loopback host %s without authentication",
    (host) => {
      expect(usageError(["--listen", `ws://${host}:0`])).toMatch(
        /^refusing to listen on .* without authentication/,
      );
    },
  );

  test.each(["127.0.0.1", "127.1.2.3", "localhost", "[::1]"])(
    "parseCommandLine accepts the loopback host %s",
    (host) => {
      expect(options(["--listen", `ws://${host}:0`]).listen.kind).toBe("websocket");
    },
  );

  test("a spare fs worker launcher is kept unless --no-spare-launcher", () => {
    expect(options([]).spareLauncher).toBe(true);
    expect(options(["--no-spare-launcher"]).spareLauncher).toBe(false);
  });

  test("parseCommandLine accepts a non-loopback host with --insecure-no-auth", () => {
    expect(options(["--listen", "ws://0.0.0.0:0", "--insecure-no-auth"]).insecureNoAuth).toBe(true);
  });

  test("parseCommandLine accepts a non-loopback host with a capability token", () => {
    const parsed = options([
      "--listen",
      "ws://0.0.0.0:0",
      "--ws-auth",
      "capability-token",
      "--ws-token-file",
      "/t",
    ]);
    expect(parsed.auth).toEqual({ tokenFile: "/t", tokenSha256: null });
  });

  test("parseCommandLine refuses capability-token auth without a token source", () => {
    expect(usageError(["--ws-auth", "capability-token"])).toBe(
      "--ws-auth capability-token needs exactly one of --ws-token-file and --ws-token-sha256",
    );
  });

  test("parseCommandLine refuses two token sources", () => {
    expect(
      usageError([
        "--ws-auth",
        "capability-token",
        "--ws-token-file",
        "/t",
        "--ws-token-sha256",
        "0".repeat(64),
      ]),
    )
      .toBe("--ws-auth capability-token needs exactly one of --ws-token-file and --ws-token-sha256");
  });

  test("parseCommandLine refuses another --ws-auth scheme", () => {
    expect(usageError(["--ws-auth", "password"])).toBe("--ws-auth: expected capability-token, got password");
  });

  test("parseCommandLine refuses a digest that is not 64 hex digits", () => {
    expect(usageError(["--ws-token-sha256", "abc"])).toBe("--ws-token-sha256: expected 64 hex digits");
  });

  test.each(["-1", "x", ""])("parseCommandLine refuses %p seconds", (value) => {
    expect(usageError(["--session-ttl", value])).toBe(
      `--session-ttl: expected a number of seconds, got ${value}`,
    );
  });

  // A runtime timer holds at most 2^31 - 1 ms and fires at once past it: a session TTL of 30 days
  // expired every detached session 1 ms after its client left.
  test.each([
    [["--session-ttl", "2592000"], "--session-ttl: expected at most 2147483 seconds, got 2592000"],
    [["--process-retention", "1e10"], "--process-retention: expected at most 2147483 seconds, got 1e10"],
    [["--kill-grace", "2147484"], "--kill-grace: expected at most 2147483 seconds, got 2147484"],
    [
      ["--default-cpu-seconds", "31536001"],
      "--default-cpu-seconds: expected a positive number up to 31536000, got 31536001",
    ],
  ])("parseCommandLine refuses %p, which a timer cannot hold", (args, message) => {
    expect(usageError(args)).toBe(message);
  });

  test("parseCommandLine takes the longest durations a timer holds", () => {
    const parsed = options(["--session-ttl", "2147483", "--default-cpu-seconds", "31536000"]);
    expect([parsed.sessionTtlMs, parsed.defaultLimits.cpuSeconds]).toEqual([2_147_483_000, 31_536_000]);
  });

  test.each(["0", "1.5", "-3", "lots"])("parseCommandLine refuses %p as a byte count", (value) => {
    expect(usageError(["--retained-output-bytes", value])).toBe(
      `--retained-output-bytes: expected a positive integer, got ${value}`,
    );
  });
});
