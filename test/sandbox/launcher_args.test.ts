import { describe, expect, test } from "bun:test";
import {
  decodeStdinArgs,
  decodeTargetEnv,
  encodeStdinArgs,
  encodeTargetEnv,
  formatLauncherArgs,
  type LauncherArgs,
  parseLauncherArgs,
} from "../../src/launcher/mod.ts";
import { type LaunchContext, sandboxedLaunch, workerLaunch } from "../../src/sandbox/mod.ts";

describe("launcher args", () => {
  const args: LauncherArgs = {
    readable: ["/usr", "/etc"],
    writable: ["/work"],
    denied: ["/work/.env"],
    readOnly: ["/work/.git"],
    noLinksIn: ["/tmp", "/work/other"],
    exec: ["/opt/bun"],
    list: ["/"],
    network: false,
    cwd: "/work",
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

  test("a spare launcher's stdin carries a fixed-width length, a newline and the argv as JSON", () => {
    const bytes = encodeStdinArgs(["--network", "off", "--", "/bin/é"]);
    const text = new TextDecoder().decode(bytes);
    const json = JSON.stringify(["--network", "off", "--", "/bin/é"]);
    expect(text).toBe(`${String(new TextEncoder().encode(json).length).padStart(8, "0")}\n${json}`);
    expect(parseLauncherArgs(["--args-on-stdin"])).toEqual({ kind: "stdin" });
    expect(decodeStdinArgs(json)).toEqual(["--network", "off", "--", "/bin/é"]);
    expect(() => decodeStdinArgs("[1]")).toThrow(RangeError);
    expect(() => decodeStdinArgs('{"0":"x"}')).toThrow(RangeError);
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

  test("sandboxedLaunch starts the launcher in / with its own environment and the program's encoded", () => {
    const context: LaunchContext = {
      launcher: { executable: "/usr/bin/deno", script: "/srv/launcher.js" },
      worker: { executable: "/usr/bin/deno", script: "/srv/worker.js" },
      command: (image, args) => [image.executable, "run", image.script ?? "", ...args],
      env: { DENO_DIR: "/state/deno" },
      userNamespaceHelper: null,
    };
    const launch = sandboxedLaunch(context, {
      readable: ["/"],
      writable: ["/w"],
      denied: [],
      readOnly: [],
      network: true,
    }, { program: "/bin/ls", args: ["-l"], argv0: "ls", cwd: "/w/sub", env: { LD_PRELOAD: "/w/x.so" } });
    expect(launch).toEqual({
      program: "/usr/bin/deno",
      args: [
        "run",
        "/srv/launcher.js",
        "sandbox-exec",
        "--read",
        "/",
        "--write",
        "/w",
        "--network",
        "on",
        "--cwd",
        "/w/sub",
        "--argv0",
        "ls",
        "--",
        "/bin/ls",
        "-l",
      ],
      cwd: "/",
      env: { DENO_DIR: "/state/deno", EXEC_SERVER_TARGET_ENV_4c445f5052454c4f4144: "/w/x.so" },
      // A spare launcher started with the same program, env and cwd reads the flags from stdin.
      handoff: {
        spareArgs: ["run", "/srv/launcher.js", "sandbox-exec", "--args-on-stdin"],
        stdinArgs: launch.args.slice(3),
      },
    });
    expect(decodeTargetEnv(launch.env)).toEqual({ LD_PRELOAD: "/w/x.so" });
  });

  test("the program's environment reaches the launcher whatever its names, __proto__ too", () => {
    const env = JSON.parse('{"__proto__":"pp","constructor":"cc","a b":"1","É":"2"}') as Record<
      string,
      string
    >;
    expect(Object.entries(decodeTargetEnv(encodeTargetEnv(env)))).toEqual(Object.entries(env));
  });

  test("the worker may read and run its image and the images' code cache, and its fence names only its roots and script", () => {
    const context: LaunchContext = {
      launcher: { executable: "/usr/bin/deno", script: "/srv/launcher.js" },
      worker: { executable: "/usr/bin/deno", script: "/srv/worker.js" },
      command: (image, args, fence) => [
        image.executable,
        ...(fence === undefined ? [] : [`--allow-read=${fence.read.join(",")}`]),
        image.script ?? "",
        ...args,
      ],
      env: { DENO_DIR: "/srv/cache" },
      cacheDir: "/srv/cache",
      userNamespaceHelper: null,
    };
    const policy = { readable: ["/r"], writable: ["/w"], denied: [], readOnly: [], network: false };
    const parsed = parseLauncherArgs(workerLaunch(context, policy).args.slice(2));
    if (parsed.kind !== "exec") throw new Error("expected an exec launch");
    expect(parsed.args.exec.slice(0, 3)).toEqual(["/usr/bin/deno", "/srv/worker.js", "/srv/cache"]);
    // The runtime reads its cache itself; the worker's requests are fenced away from it.
    // The worker is told the same readable paths, to answer a read outside them as the fence does.
    expect(parsed.args.args).toEqual([
      "--allow-read=/r,/w,/srv/worker.js",
      "/srv/worker.js",
      "fs-worker",
      "--readable",
      "/r",
      "/w",
      "/srv/worker.js",
    ]);
    const none = parseLauncherArgs(workerLaunch({ ...context, cacheDir: null }, policy).args.slice(2));
    if (none.kind !== "exec") throw new Error("expected an exec launch");
    expect(none.args.exec).not.toContain("/srv/cache");
  });

  test("the worker's fence may write its writable roots and the null devices its readable roots show", () => {
    const context: LaunchContext = {
      launcher: { executable: "/usr/bin/deno", script: "/srv/launcher.js" },
      worker: { executable: "/usr/bin/deno", script: "/srv/worker.js" },
      command: (image, args, fence) => [
        image.executable,
        ...(fence === undefined ? [] : [`--allow-write=${fence.write.join(",")}`]),
        image.script ?? "",
        ...args,
      ],
      env: {},
      cacheDir: null,
      userNamespaceHelper: null,
    };
    const writes = (readable: string[]): string | undefined => {
      const policy = { readable, writable: ["/w"], denied: [], readOnly: [], network: false };
      const parsed = parseLauncherArgs(workerLaunch(context, policy).args.slice(2));
      if (parsed.kind !== "exec") throw new Error("expected an exec launch");
      return parsed.args.args[0];
    };
    expect(writes(["/usr", "/dev/null", "/dev/full", "/dev/tty"])).toBe("--allow-write=/w,/dev/null");
    expect(writes(["/"])).toBe("--allow-write=/w,/dev/null,/dev/zero,/dev/random,/dev/urandom");
    expect(writes(["/r"])).toBe("--allow-write=/w");
  });

  test("the worker may read and run the files its runtime reads beside its script (Bun's bytecode)", () => {
    const worker = {
      executable: "/usr/bin/bun",
      script: "/srv/worker.js",
      companionFiles: ["/srv/worker.js.jsc"],
    };
    const context: LaunchContext = {
      launcher: { executable: "/usr/bin/bun", script: "/srv/launcher.js" },
      worker,
      command: (image, args, fence) => [
        image.executable,
        ...(fence === undefined ? [] : [`--allow-read=${fence.read.join(",")}`]),
        image.script ?? "",
        ...args,
      ],
      env: {},
      cacheDir: null,
      userNamespaceHelper: null,
    };
    const policy = { readable: ["/r"], writable: ["/w"], denied: [], readOnly: [], network: false };
    const parsed = parseLauncherArgs(workerLaunch(context, policy).args.slice(2));
    if (parsed.kind !== "exec") throw new Error("expected an exec launch");
    expect(parsed.args.exec.slice(0, 3)).toEqual(["/usr/bin/bun", "/srv/worker.js", "/srv/worker.js.jsc"]);
    expect(parsed.args.args[0]).toBe("--allow-read=/r,/w,/srv/worker.js,/srv/worker.js.jsc");
  });
});
