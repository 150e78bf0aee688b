import { describe, expect, test } from "bun:test";
import { formatLauncherArgs, type LauncherArgs, parseLauncherArgs } from "../../src/launcher/mod.ts";
import { sandboxedCommand } from "../../src/sandbox/mod.ts";

describe("launcher args", () => {
  const args: LauncherArgs = {
    readable: ["/usr", "/etc"],
    writable: ["/work"],
    denied: ["/work/.env"],
    readOnly: ["/work/.git"],
    exec: ["/opt/bun"],
    list: ["/"],
    network: false,
    without: [],
    program: "/bin/sh",
    argv0: "sh",
    args: ["-c", "echo --read"],
  };

  test("parseLauncherArgs inverts formatLauncherArgs", () => {
    expect(parseLauncherArgs(formatLauncherArgs(args))).toEqual({ kind: "exec", args });
  });

  test("parseLauncherArgs reads the probe mode", () => {
    expect(parseLauncherArgs(["--probe"])).toEqual({ kind: "probe" });
  });

  test("parseLauncherArgs refuses malformed argv", () => {
    expect(() => parseLauncherArgs(["--read", "rel", "--network", "off", "--", "/bin/true"])).toThrow(
      '--read needs an absolute path, got "rel"',
    );
    expect(() => parseLauncherArgs(["--network", "off", "--", "true"])).toThrow(
      "PROGRAM must be an absolute path",
    );
    expect(() => parseLauncherArgs(["--", "/bin/true"])).toThrow("--network on|off is required");
    expect(() => parseLauncherArgs(["--bogus", "x", "--network", "on", "--", "/bin/true"])).toThrow(
      "unknown flag",
    );
    expect(() => parseLauncherArgs(["--network", "on"])).toThrow("missing -- PROGRAM");
  });

  test("sandboxedCommand puts the launcher after the self command", () => {
    const command = sandboxedCommand(["/usr/bin/deno", "run", "-A", "/srv/mod.ts"], {
      readable: ["/"],
      writable: ["/w"],
      denied: [],
      readOnly: [],
      network: true,
    }, { program: "/bin/ls", args: ["-l"], argv0: "ls" });
    expect(command).toEqual({
      program: "/usr/bin/deno",
      args: [
        "run",
        "-A",
        "/srv/mod.ts",
        "sandbox-exec",
        "--read",
        "/",
        "--write",
        "/w",
        "--network",
        "on",
        "--argv0",
        "ls",
        "--",
        "/bin/ls",
        "-l",
      ],
    });
  });
});
