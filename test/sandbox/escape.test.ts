/**
 * Escape regression suite at launcher level: every case runs through `sandbox-exec` under Bun
 * and under Deno. Each case owns a temp dir with `inside` (the writable root) and `outside`
 * (holding `secret.txt`), and asserts the outside file is unchanged afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { createSocket } from "node:dgram";
import {
  chmod,
  copyFile,
  lchown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encodeStdinArgs, SANDBOX_EXIT } from "../../src/launcher/mod.ts";
import {
  type Launch,
  type LaunchContext,
  MINIMAL_PATHS,
  type Policy,
  sandboxedLaunch,
  workerLaunch,
} from "../../src/sandbox/mod.ts";
import { bundleFixture, fixtureLaunchContext } from "../helpers/launch_context.ts";

const REPO = resolve(import.meta.dir, "../..");
const FIXTURE = join(REPO, "test/fixtures/sandbox_exec_fixture.ts");
const SWAP_FIXTURE = join(REPO, "test/fixtures/sandbox_exec_swap_fixture.ts");

/**
 * `context` with the launcher replaced by the swap fixture, which renames `SWAP_PATH` aside and puts
 * `SWAP_LINK` at its name at the moment `env` names (see sandbox_exec_swap_fixture.ts).
 */
function withSwap(context: LaunchContext, env: Record<string, string>): LaunchContext {
  return {
    ...context,
    launcher: { ...context.launcher, script: SWAP_FIXTURE },
    env: { ...context.env, ...env },
  };
}
const OPS_FIXTURE = join(REPO, "test/fixtures/sandbox_ops_fixture.ts");
const DENO = join(REPO, "node_modules/.bin/deno");
const SECRET = "top secret\n";

/**
 * Binds, listens on and removes sockets in the directory `argv[1]` without end, eight names in
 * turn, each file living 0–4 ms; says "churning" once the first was bound.
 */
const SOCKET_CHURN = `import os, socket, sys, time
turn = 0
while True:
    path = os.path.join(sys.argv[1], "s%d" % (turn % 8))
    s = socket.socket(socket.AF_UNIX)
    s.bind(path); s.listen(1)
    if turn == 0: print("churning", flush=True)
    time.sleep(0.001 * (turn % 5))
    os.unlink(path); s.close()
    turn += 1`;

/**
 * Saves the file \`.env\` in the directory \`argv[1]\` without end the way editors do (a new file
 * written beside it and renamed over it), one save every 0–1 ms; says "saving" after the first.
 */
const EDITOR_SAVES = `import os, sys, time
turn = 0
while True:
    path = os.path.join(sys.argv[1], ".env")
    with open(path + ".tmp", "w") as f: f.write("TOKEN=%d\\n" % turn)
    os.rename(path + ".tmp", path)
    if turn == 0: print("saving", flush=True)
    time.sleep(0.0005 * (turn % 3))
    turn += 1`;

/**
 * Every case runs under each runtime with the launcher started as root, and under Bun as `nobody`
 * too (through util-linux unshare's user namespace, as a non-root server starts it); the hostile
 * suite runs both runtimes' servers as `nobody`.
 */
const RUNTIMES = [["bun", "root"], ["deno", "root"], ["bun", "nobody"]] as const;
const NOBODY = 65534;
/** The environment every sandboxed program of these cases gets. */
const TARGET_ENV = { PATH: "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/root" };

interface Run {
  readonly code: number;
  readonly out: string;
}

async function run(launch: Pick<Launch, "program" | "args" | "env" | "cwd">, stdin?: string): Promise<Run> {
  const child = Bun.spawn([launch.program, ...launch.args], {
    cwd: launch.cwd,
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: launch.env,
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, out: stdout + stderr };
}

/** The exit code, with the output when it is not `expected`: a failure then shows the reason. */
function codeOf(run: Run, expected: number): number | string {
  return run.code === expected ? run.code : `${run.code}: ${run.out}`;
}

interface Snapshot {
  readonly text: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

async function snapshot(path: string): Promise<Snapshot> {
  const info = await stat(path);
  return {
    text: await readFile(path, "utf8"),
    mode: info.mode,
    uid: info.uid,
    gid: info.gid,
    mtimeMs: info.mtimeMs,
    ctimeMs: info.ctimeMs,
  };
}

/** Hands a tree to `nobody` (symlinks themselves, never their targets). */
async function ownTree(path: string): Promise<void> {
  await lchown(path, NOBODY, NOBODY);
  const info = await lstat(path);
  if (!info.isDirectory()) return;
  for (const name of await readdir(path)) await ownTree(join(path, name));
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a host command as the test's user; throws with its output when it fails. */
async function command(argv: readonly string[]): Promise<void> {
  const result = await run({ program: argv[0] ?? "", args: argv.slice(1), env: TARGET_ENV, cwd: "/" });
  if (result.code !== 0) throw new Error(`${argv.join(" ")}: ${result.out}`);
}

/** Makes the queue at argv[1] (a file of an mqueue mount), owned by uid argv[2], holding one message. */
const MQ_HOLD = `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.fchown(fd, int(sys.argv[2]), int(sys.argv[2]))
if libc.mq_send(fd, b"host message", 12, 0) != 0: sys.exit("mq_send: errno %d" % ctypes.get_errno())
`;

/** A shell command that receives a message from the queue file given after it, or says "nothing". */
const MQ_STEAL = `/usr/bin/python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
try: fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
except OSError: sys.exit(print("nothing"))
buffer = ctypes.create_string_buffer(8192)
size = libc.mq_receive(fd, buffer, 8192, None)
print(buffer.raw[:size].decode() if size >= 0 else "nothing")'`;

/**
 * A script that connects to each unix socket path in turn and sends to it, printing `reached PATH`
 * for each it reached and `refused` for each it did not.
 */
function connectEach(...paths: string[]): string {
  return `/usr/bin/python3 -c 'import socket, sys
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path); s.sendall(b"pwned"); print("reached", path)
    except OSError as error:
        print("refused")' ${paths.join(" ")}`;
}

describe.each(RUNTIMES)("sandbox-exec on %s as %s", (runtimeName, user) => {
  let context: LaunchContext;
  let root = "";
  let inside = "";
  let outside = "";
  let secret = "";
  let before: Snapshot;

  /** The policy of most cases: programs run, only `inside` is writable, `outside` is not visible. */
  const hidden = (network = false): Policy => ({
    readable: [...MINIMAL_PATHS],
    writable: [inside],
    denied: [],
    readOnly: [],
    network,
  });
  /** The same with the whole temp dir readable, so `outside` is visible but read-only. */
  const visible = (): Policy => ({ ...hidden(), readable: [...MINIMAL_PATHS, root] });

  /** The launch of `program` under `policy`, in `inside` unless `cwd` says otherwise. */
  function confined(
    policy: Policy,
    program: string,
    args: string[],
    options: { argv0?: string; cwd?: string } = {},
  ) {
    return sandboxedLaunch(context, policy, {
      program,
      args,
      argv0: options.argv0 ?? program,
      cwd: options.cwd ?? inside,
      env: TARGET_ENV,
    });
  }

  function sh(policy: Policy, script: string): Promise<Run> {
    return launched(confined(policy, "/bin/sh", ["-c", script], { argv0: "sh" }));
  }

  /**
   * Runs a launch; as `nobody`, what the case made in `inside` is handed over first, so only the
   * sandbox (never file ownership) stands between the program and what it must not touch.
   */
  async function launched(launch: Launch, stdin?: string): Promise<Run> {
    if (user === "nobody") await ownTree(inside);
    return await run(launch, stdin);
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), `sandbox-escape-${runtimeName}-`));
    await bundleFixture(OPS_FIXTURE, join(root, "ops.js"));
    const fixtures = fixtureLaunchContext(runtimeName, { launcher: FIXTURE, worker: join(root, "ops.js") });
    context = user === "root" ? fixtures : {
      ...fixtures,
      env: { ...fixtures.env, DENO_DIR: join(root, "deno-dir") },
      userNamespaceHelper: [
        "setpriv",
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        "--",
        "unshare",
        "--user",
        "--map-current-user",
        "--keep-caps",
        "--",
      ],
    };
    inside = join(root, "inside");
    outside = join(root, "outside");
    secret = join(outside, "secret.txt");
    await mkdir(inside);
    await mkdir(outside);
    await writeFile(secret, SECRET);
    await chmod(secret, 0o640);
    await symlink(secret, join(inside, "link"));
    await symlink(outside, join(inside, "dlink"));
    await symlink(join(outside, "created.txt"), join(inside, "dangle"));
    await copyFile("/usr/bin/true", join(outside, "true"));
    await chmod(join(outside, "true"), 0o755);
    if (user === "nobody") {
      await mkdir(join(root, "deno-dir"));
      await ownTree(root);
    }
    before = await snapshot(secret);
  });

  afterAll(async () => {
    expect(await snapshot(secret)).toEqual(before);
    await rm(root, { recursive: true, force: true });
  });

  async function expectOutsideIntact(): Promise<void> {
    expect(await snapshot(secret)).toEqual(before);
    expect(await exists(join(outside, "created.txt"))).toBe(false);
    expect(await exists(join(outside, "new.txt"))).toBe(false);
  }

  test("runs a program with every layer active", async () => {
    const result = await sh(
      hidden(),
      "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; head -1 /proc/self/mounts; echo ok > made.txt",
    );
    // The root's tmpfs names the launch: the launcher's pid (the shell's, after execve) and start time.
    expect(result.code).toBe(0);
    expect(result.out).toMatch(
      new RegExp(
        "^NoNewPrivs:\t1\nSeccomp:\t2\nexec-server-sandbox:\\d+:\\d+ / tmpfs ro,nosuid,nodev,relatime,size=1024k,mode=755" +
          (user === "root" ? "" : `,uid=${NOBODY},gid=${NOBODY}`) + " 0 0\n$",
      ),
    );
    expect(await readFile(join(inside, "made.txt"), "utf8")).toBe("ok\n");
  });

  // Bun's collector can overwrite errno between a system call and its reading (a mkdirat EEXIST
  // read as ENOENT failed one launch in hundreds under load); running it continuously makes that
  // far more likely. The namespace is built by the same code whoever starts the launcher, so one
  // user's variant covers it. Its 30 launches are two cases of 15, each well within its time limit
  // with both cores busy (30 in one case took up to 21 s there).
  if (runtimeName === "bun" && user === "root") {
    test.each([1, 2])(
      "builds its namespace while the garbage collector runs continuously (%i of 2)",
      async () => {
        const launch = confined(hidden(), "/bin/true", [], { argv0: "true" });
        const gc = { ...launch, env: { ...launch.env, BUN_JSC_collectContinuously: "1" } };
        const failures: string[] = [];
        for (let round = 0; round < 15; round++) {
          const result = await launched(gc);
          if (result.code !== 0) failures.push(`${result.code}: ${result.out}`);
        }
        expect(failures).toEqual([]);
      },
    );
  }

  test("denies reading through a file symlink, a directory symlink and .. after it", async () => {
    // One launch tries every target: each must fail on its own.
    const result = await sh(
      hidden(),
      'for t in link dlink/secret.txt dlink/../outside/secret.txt; do cat "$t" && echo "read $t"; done',
    );
    expect(result.out.match(/No such file or directory/g)?.length).toBe(3);
    expect(result.out).not.toContain("read ");
    expect(result.out).not.toContain("top secret");
  });

  test("denies writing through a file symlink, a directory symlink and .. after it", async () => {
    const targets = "link dlink/secret.txt dlink/new.txt dlink/../outside/new.txt";
    for (const policy of [hidden(), visible()]) {
      const result = await sh(
        policy,
        `for t in ${targets}; do (echo x > "$t") && echo "wrote $t"; (echo x >> "$t") && echo "appended $t"; done`,
      );
      expect(result.out).not.toMatch(/wrote|appended/);
      expect(result.out.split("\n").filter((line) => line !== "").length).toBe(8);
    }
    await expectOutsideIntact();
  });

  test("denies creating through a dangling symlink", async () => {
    for (const policy of [hidden(), visible()]) {
      const result = await sh(policy, "echo x > dangle");
      expect(result.code).not.toBe(0);
    }
    await expectOutsideIntact();
  });

  test("denies a hard link to an outside file", async () => {
    for (const policy of [hidden(), visible()]) {
      const result = await sh(policy, `ln ${secret} hard.txt`);
      expect(result.code).not.toBe(0);
      expect(await exists(join(inside, "hard.txt"))).toBe(false);
    }
    await expectOutsideIntact();
  });

  test("denies renaming out of the writable root", async () => {
    await writeFile(join(inside, "moved.txt"), "mine");
    for (const policy of [hidden(), visible()]) {
      const result = await sh(policy, `mv moved.txt ${outside}/new.txt`);
      expect(result.code).not.toBe(0);
    }
    expect(await readFile(join(inside, "moved.txt"), "utf8")).toBe("mine");
    await expectOutsideIntact();
  });

  test("denies /proc/self/root and /proc/1", async () => {
    const result = await sh(hidden(), `cat /proc/self/root${secret}; cat /proc/1/environ; ls /proc/1`);
    expect(result.code).not.toBe(0);
    expect(result.out).not.toContain("top secret");
    expect(result.out).not.toContain("PATH=");
    const write = await sh(
      visible(),
      `echo x > /proc/self/root${secret}; echo x > /proc/self/root${outside}/new.txt`,
    );
    expect(write.code).not.toBe(0);
    await expectOutsideIntact();
  });

  test("denies executing a binary outside the roots", async () => {
    const result = await sh(hidden(), `${outside}/true && echo ran`);
    expect(result.code).not.toBe(0);
    expect(result.out).not.toContain("ran");
  });

  test("denies chmod, chown and touch of an outside file by path, symlink and ..", async () => {
    const targets = [
      secret,
      "link",
      "dlink/secret.txt",
      `${inside}/../outside/secret.txt`,
      "dlink/../outside/secret.txt",
    ];
    for (const policy of [hidden(), visible()]) {
      const result = await sh(
        policy,
        `for t in ${targets.join(" ")}; do chmod 777 "$t" && echo "changed $t"; ` +
          `chown 1234:1234 "$t" && echo "changed $t"; touch -m -d @0 "$t" && echo "changed $t"; done`,
      );
      expect(result.out).not.toContain("changed");
      // Every one of the 15 attempts fails with an error line of its own.
      const errors = result.out.split("\n").filter((line) => line !== "");
      expect(errors.length).toBe(15);
      expect(
        errors.filter((line) =>
          /Read-only file system|No such file or directory|Permission denied|dangling/.test(line)
        ),
      )
        .toEqual(errors);
    }
    await expectOutsideIntact();
  });

  test("denies setxattr of an outside file by path, symlink and ..", async () => {
    const policy: Policy = { ...visible(), readable: [...visible().readable, REPO] };
    const [program, ...args] = runtimeName === "bun"
      ? [process.execPath, OPS_FIXTURE]
      : [DENO, "run", "-A", OPS_FIXTURE];
    if (program === undefined) throw new Error("no runtime");
    const outside = [secret, join(inside, "link"), join(inside, "dlink/../outside/secret.txt")];
    const insideFile = join(inside, "xattr.txt");
    await writeFile(insideFile, "");
    // One confined run tries every path: each outcome is a line of its own.
    const result = await launched(confined(policy, program, [...args, "setxattr", ...outside, insideFile]));
    const outcomes = new Map(
      result.out.split("\n").filter((line) => line.startsWith("{")).map((line) => {
        const outcome = JSON.parse(line) as { path: string; ok: boolean; errno: number };
        return [outcome.path, outcome.ok ? "set" : [2, 13, 30].includes(outcome.errno) ? "denied" : line];
      }),
    );
    expect(Object.fromEntries(outcomes)).toEqual({
      ...Object.fromEntries(outside.map((path) => [path, "denied"])),
      [insideFile]: "set",
    });
    await expectOutsideIntact();
  });

  test("denies stat through a symlink and of a hidden path", async () => {
    const result = await sh(hidden(), `stat -L link; stat ${secret}; stat ${outside}`);
    expect(result.code).not.toBe(0);
    expect(result.out).not.toContain("Size:");
  });

  test("denies ptrace-like access, signals and new namespaces", async () => {
    const sibling = Bun.spawn(["sleep", "30"]);
    try {
      const result = await sh(
        hidden(),
        `cat /proc/${sibling.pid}/mem; kill -0 ${sibling.pid} && echo signalled; unshare -r true && echo unshared`,
      );
      expect(result.code).not.toBe(0);
      expect(result.out).not.toContain("signalled");
      expect(result.out).not.toContain("unshared");
    } finally {
      sibling.kill();
      await sibling.exited;
    }
  });

  test("denies ptrace attach to a sibling and a sandboxed unshare -r", async () => {
    const sibling = Bun.spawn(["sleep", "30"]);
    try {
      const result = await sh(
        hidden(true),
        `strace -p ${sibling.pid} -e trace=none -o /dev/null && echo traced; unshare -r true && echo unshared`,
      );
      expect(result.code).not.toBe(0);
      expect(result.out).toContain("Operation not permitted");
      expect(result.out).not.toContain("traced");
      expect(result.out).not.toContain("unshared");
      expect(await readFile(`/proc/${sibling.pid}/status`, "utf8")).toContain("TracerPid:\t0\n");
    } finally {
      sibling.kill();
      await sibling.exited;
    }
  });

  test("denies changing another process's limits, priority, affinity and io priority", async () => {
    const sibling = Bun.spawn(["sleep", "30"]);
    const observe = async (): Promise<string> => {
      const limits = await readFile(`/proc/${sibling.pid}/limits`, "utf8");
      const stat = (await readFile(`/proc/${sibling.pid}/stat`, "utf8")).split(") ")[1]?.split(" ") ?? [];
      const status = await readFile(`/proc/${sibling.pid}/status`, "utf8");
      // Fields of stat after the name: priority, nice (16, 17 counted from the state).
      return [limits, stat[15], stat[16], status.match(/Cpus_allowed_list:.*/)?.[0]].join("|");
    };
    try {
      const before = await observe();
      for (const network of [false, true]) {
        const result = await sh(
          hidden(network),
          `prlimit --pid ${sibling.pid} --nofile=3:3 && echo limited; ` +
            `renice -n 7 -p ${sibling.pid} && echo reniced; ` +
            `taskset -p 1 ${sibling.pid} && echo pinned; ` +
            `ionice -c 3 -p ${sibling.pid} && echo idled; ` +
            `prlimit --nofile=100:100 sh -c 'ulimit -n'; nice -n 3 sh -c 'echo own nice ok'`,
        );
        expect(result.out).not.toMatch(/limited|reniced|pinned|idled/);
        expect(result.out.match(/Operation not permitted/g)?.length).toBe(4);
        expect(result.out).toContain("100\nown nice ok\n");
      }
      expect(await observe()).toBe(before);
    } finally {
      sibling.kill();
      await sibling.exited;
    }
  });

  if (user === "root") {
    test("keeps only the file-ownership capabilities of root", async () => {
      if (process.getuid?.() !== 0) throw new Error("this case needs root, as CI runs it");
      const result = await sh(
        hidden(true),
        "grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb):' /proc/self/status; " +
          "touch owned; chown 1234:1234 owned && chmod 640 owned && echo chowned",
      );
      // CAP_CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETGID, SETUID, AUDIT_WRITE.
      expect(result).toEqual({
        code: 0,
        out: "CapInh:\t0000000000000000\nCapPrm:\t00000000200000eb\nCapEff:\t00000000200000eb\n" +
          "CapBnd:\t00000000200000eb\nCapAmb:\t0000000000000000\nchowned\n",
      });
    });
  } else {
    test("holds no capability as an ordinary user", async () => {
      const result = await sh(hidden(true), "grep -E '^Cap(Eff|Prm|Inh|Amb):' /proc/self/status; id -u");
      expect(result).toEqual({
        code: 0,
        out: "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n" +
          `CapAmb:\t0000000000000000\n${NOBODY}\n`,
      });
    });
  }

  test("still allows chmod +x, running and touch inside the writable root", async () => {
    const result = await sh(
      hidden(),
      "printf '#!/bin/sh\\necho script ran\\n' > run.sh; chmod +x run.sh; ./run.sh; touch -m -d @1000000000 run.sh",
    );
    expect(result).toEqual({ code: 0, out: "script ran\n" });
    const info = await stat(join(inside, "run.sh"));
    expect(info.mode & 0o111).toBe(0o111);
    expect(info.mtimeMs).toBe(1_000_000_000_000);
  });

  test("hides denied paths and keeps read-only paths read-only inside the writable root", async () => {
    await mkdir(join(inside, ".git"), { recursive: true });
    await writeFile(join(inside, ".git/config"), "git config");
    await writeFile(join(inside, ".env"), "TOKEN=hidden");
    await mkdir(join(inside, "private/shown"), { recursive: true });
    await writeFile(join(inside, "private/key"), "private key");
    await writeFile(join(inside, "private/shown/note"), "note");
    const policy: Policy = {
      ...hidden(),
      readable: [...MINIMAL_PATHS, join(inside, "private/shown")],
      denied: [join(inside, ".env"), join(inside, "private")],
      readOnly: [join(inside, ".git")],
    };
    const result = await sh(
      policy,
      "cat .env; cat private/key; ls private; cat private/shown/note; echo; cat .git/config; echo; " +
        "echo x > .env; echo x > .git/config; touch .git/new; chmod 777 .git/config; echo ok > free.txt && echo wrote",
    );
    expect(result.out).not.toContain("TOKEN=hidden");
    expect(result.out).not.toContain("private key");
    expect(result.out).toContain("note\ngit config\n");
    expect(result.out).toContain("wrote");
    expect(result.out.match(/Read-only file system/g)?.length).toBe(4);
    expect(await readFile(join(inside, ".env"), "utf8")).toBe("TOKEN=hidden");
    expect(await readFile(join(inside, ".git/config"), "utf8")).toBe("git config");
    expect(await exists(join(inside, ".git/new"))).toBe(false);
  });

  test("never follows a symlink on the way to a carve-out, nor lets its ancestors move", async () => {
    await mkdir(join(inside, "keep/deep"), { recursive: true });
    await writeFile(join(inside, "keep/deep/file"), "kept");
    await symlink("/", join(inside, "later"));
    await symlink(outside, join(inside, "gone"));
    const policy: Policy = {
      ...hidden(),
      readOnly: [join(inside, "later"), join(inside, "keep/deep/file")],
      denied: [join(inside, "gone/secret.txt")],
    };
    const result = await sh(
      policy,
      "test -d later/var && echo host-root; cat gone/secret.txt; " +
        "mv keep kept && echo moved; mv keep/deep keep/d2 && echo moved; echo x > keep/deep/file && echo wrote; echo tried",
    );
    expect(result.out).toContain("tried\n");
    expect(result.out).not.toMatch(/host-root|top secret|moved|wrote/);
    expect(await readFile(join(inside, "keep/deep/file"), "utf8")).toBe("kept");
    await rm(join(inside, "later"));
    await rm(join(inside, "gone"));
    await rm(join(inside, "keep"), { recursive: true });
  });

  test("refuses a root looked up through a symlink inside an area a sandbox could write", async () => {
    // `dlink` (in `inside`) names `outside`: a later policy's root through it would show `outside`.
    const throughLink: Policy = {
      readable: [...MINIMAL_PATHS, join(inside, "dlink")],
      writable: [],
      denied: [],
      readOnly: [],
      network: false,
    };
    const cat = (policy: Policy) =>
      launched(confined(policy, "/bin/cat", [join(inside, "dlink/secret.txt")], { argv0: "cat", cwd: "/" }));
    const followed = await cat(throughLink);
    expect(followed.out).toBe(SECRET);
    const refused = await cat({ ...throughLink, noLinksIn: [inside] });
    expect(codeOf(refused, SANDBOX_EXIT.mountNamespace)).toBe(SANDBOX_EXIT.mountNamespace);
    expect(refused.out).toContain(
      `passes through the symbolic link ${join(inside, "dlink")}, inside ${inside}`,
    );
  });

  test("binds no root that a rename swapped for a link after the lookup checked it", async () => {
    // The swap fixture renames `swap/proj` aside and puts `swap/plink` (a link to `outside`) in its
    // place right after the launcher has looked `swap/proj` up: the race a sandbox runs, won.
    const swap = join(root, "swap");
    await mkdir(join(swap, "proj"), { recursive: true });
    // Relative, as a sandbox would make it: an absolute target would lead nowhere once the launcher
    // has moved into its namespace's root.
    await symlink("../outside", join(swap, "plink"));
    if (user === "nobody") await ownTree(swap);
    const swapContext = withSwap(context, {
      SWAP_PATH: join(swap, "proj"),
      SWAP_ASIDE: join(swap, "proj.aside"),
      SWAP_LINK: join(swap, "plink"),
    });
    const policy: Policy = { ...hidden(), writable: [inside, join(swap, "proj")] };
    const launch = sandboxedLaunch(swapContext, policy, {
      program: "/bin/sh",
      args: ["-c", `cat ${join(swap, "proj/secret.txt")}; echo x > ${join(swap, "proj/marker")}; echo ran`],
      argv0: "sh",
      cwd: "/",
      env: TARGET_ENV,
    });
    const result = await launched(launch);
    expect(result.out).not.toContain("top secret");
    expect(codeOf(result, SANDBOX_EXIT.mountNamespace)).toBe(SANDBOX_EXIT.mountNamespace);
    expect(result.out).toContain("changed while the sandbox was being built");
    expect(await exists(join(outside, "marker"))).toBe(false);
    await rm(swap, { recursive: true, force: true });
  });

  test("takes a root's carve-outs from what it bound, not from what a rename put at its name after", async () => {
    // Right after the launcher has checked what it bound at `swap/proj`, the swap fixture puts
    // `swap/plink` (a link to `outside`) in its place: the race a sandbox that may write `swap`
    // runs. The read-only `.git` must still be the bound root's, never `outside/.git`.
    const swap = join(root, "swap");
    await mkdir(join(swap, "proj/.git"), { recursive: true });
    await writeFile(join(swap, "proj/.git/HEAD"), "ref: refs/heads/main\n");
    await mkdir(join(outside, ".git"), { recursive: true });
    await writeFile(join(outside, ".git/HEAD"), SECRET);
    await symlink("../outside", join(swap, "plink"));
    if (user === "nobody") await ownTree(swap);
    const swapContext = withSwap(context, {
      SWAP_PATH: join(swap, "proj"),
      SWAP_ASIDE: join(swap, "proj.aside"),
      SWAP_LINK: join(swap, "plink"),
      SWAP_TRIGGER: `/newroot${join(swap, "proj")}`,
      SWAP_COUNT: "1",
    });
    const git = join(swap, "proj/.git");
    const policy: Policy = { ...hidden(), writable: [inside, join(swap, "proj")], readOnly: [git] };
    const launch = sandboxedLaunch(swapContext, policy, {
      program: "/bin/sh",
      args: ["-c", `cat ${git}/HEAD; echo x > ${git}/HEAD && echo wrote; echo ran`],
      argv0: "sh",
      cwd: "/",
      env: TARGET_ENV,
    });
    const result = await launched(launch);
    expect(result.out).not.toContain("top secret");
    expect(result.out).not.toContain("wrote");
    expect(result.out).toContain("ref: refs/heads/main\n");
    expect(result.out).toContain("ran\n");
    expect(await readFile(join(outside, ".git/HEAD"), "utf8")).toBe(SECRET);
    expect(await readFile(join(swap, "proj.aside/.git/HEAD"), "utf8")).toBe("ref: refs/heads/main\n");
    await rm(join(outside, ".git"), { recursive: true, force: true });
    await rm(swap, { recursive: true, force: true });
  });

  test("makes no mount point outside the new root when a rename puts a link on the way to one", async () => {
    // A root nested in another bound root gets its mount point made through that root, whose
    // directories a sandbox that may write them can change: right after the outer root is bound,
    // the swap fixture puts `swap/proj/sub` aside and a link to the host's `outside` in its place.
    const swap = join(root, "swap");
    await mkdir(join(swap, "proj/sub/x"), { recursive: true });
    await symlink(`/oldroot${outside}`, join(swap, "sublink"));
    if (user === "nobody") await ownTree(swap);
    const swapContext = withSwap(context, {
      SWAP_PATH: join(swap, "proj/sub"),
      SWAP_ASIDE: join(swap, "proj/sub.aside"),
      SWAP_LINK: join(swap, "sublink"),
      SWAP_TRIGGER: `/newroot${swap}`,
      SWAP_COUNT: "1",
    });
    const policy: Policy = {
      ...hidden(),
      readable: [...MINIMAL_PATHS, swap],
      writable: [join(swap, "proj/sub/x")],
    };
    const launch = sandboxedLaunch(swapContext, policy, {
      program: "/bin/sh",
      args: ["-c", "echo ran"],
      argv0: "sh",
      cwd: "/",
      env: TARGET_ENV,
    });
    const result = await launched(launch);
    expect(await exists(join(outside, "x"))).toBe(false);
    expect(codeOf(result, SANDBOX_EXIT.mountNamespace)).toBe(SANDBOX_EXIT.mountNamespace);
    expect(result.out).toContain("changed while the sandbox was being built");
    await rm(join(outside, "x"), { recursive: true, force: true });
    await rm(swap, { recursive: true, force: true });
  });

  test("a root's own mounts of procfs and a message queue file system show nothing of the host", async () => {
    // A chroot in a root, with the host's /proc and /dev/mqueue mounted in it (as `mount --rbind /dev`
    // leaves it): read-only was not enough, since a queue opened for reading is received from, and
    // the host's /proc lists every process.
    const chroot = join(root, "chroot");
    const queues = join(chroot, "dev/mqueue");
    const proc = join(chroot, "proc");
    await mkdir(queues, { recursive: true });
    await mkdir(proc, { recursive: true });
    await command(["mount", "-t", "mqueue", "none", queues]);
    await command(["mount", "-t", "proc", "proc", proc]);
    // The host's own queues are in this mount: the test's has a name of its own.
    const queue = join(queues, `exec-server-escape-${process.pid}-${runtimeName}-${user}`);
    try {
      await command(["python3", "-c", MQ_HOLD, queue, String(user === "nobody" ? NOBODY : 0)]);
      const attack =
        `ls ${proc} | wc -l; ${MQ_STEAL} ${queue}; rm ${queue} 2>/dev/null && echo removed; echo done`;
      for (const policy of [visible(), { ...hidden(), writable: [inside, chroot] }]) {
        const result = await sh(policy, attack);
        expect(result.out).not.toContain("host message");
        expect(result.out).not.toContain("removed");
        expect(result.out).toBe(`0\nnothing\ndone\n`);
      }
      expect(await exists(queue)).toBe(true);
    } finally {
      await rm(queue, { force: true });
      await command(["umount", "-l", queues]);
      await command(["umount", "-l", proc]);
      await rm(chroot, { recursive: true, force: true });
    }
  });

  test("leaves no kernel-interface mount writable when a rename moves it after the mount table is read", async () => {
    // A bpf file system in a chroot inside a writable root. Right after the launcher has read its
    // mount table, the swap fixture moves `chroot` aside and puts a link in its place whose way
    // ends at a mount root (`x/bpf` leads to `/oldroot`): made read-only by its path, that other
    // mount was, and the bpf file system at its new name stayed writable.
    const swap = join(root, "swap");
    const bpf = join(swap, "chroot/bpf");
    await mkdir(bpf, { recursive: true });
    await mkdir(join(swap, "x"));
    await symlink("/oldroot", join(swap, "x/bpf"));
    await symlink("x", join(swap, "chlink"));
    await command(["mount", "-t", "bpf", "bpf", bpf]);
    try {
      if (user === "nobody") await ownTree(swap);
      const swapContext = withSwap(context, {
        SWAP_PATH: join(swap, "chroot"),
        SWAP_ASIDE: join(swap, "chroot.aside"),
        SWAP_LINK: join(swap, "chlink"),
        SWAP_TRIGGER: "/oldroot/proc/self/mountinfo",
        SWAP_COUNT: "1",
      });
      const launch = sandboxedLaunch(swapContext, { ...hidden(), writable: [inside, swap] }, {
        program: "/bin/sh",
        args: ["-c", `mkdir ${join(swap, "chroot.aside/bpf/made")} 2>/dev/null && echo made; echo ran`],
        argv0: "sh",
        cwd: "/",
        env: TARGET_ENV,
      });
      const result = await launched(launch);
      expect(result.out).not.toContain("made");
      expect(codeOf(result, SANDBOX_EXIT.mountNamespace)).toBe(SANDBOX_EXIT.mountNamespace);
      expect(result.out).toContain("changed while the sandbox was being built");
      expect(await exists(join(swap, "chroot.aside/bpf/made"))).toBe(false);
    } finally {
      const aside = join(swap, "chroot.aside");
      await command(["umount", "-l", await exists(aside) ? join(aside, "bpf") : bpf]);
      await rm(swap, { recursive: true, force: true });
    }
  });

  test("reaches no host daemon's unix socket in a read-only part of a root, and keeps its own", async () => {
    // A daemon listening in a directory a root shows read-only (the system bus in /run, a container
    // runtime's socket, where `/` is readable): connected to, it acts outside the sandbox.
    const runDir = join(root, "run");
    await mkdir(runDir);
    const path = join(runDir, "daemon.sock");
    const heard: string[] = [];
    const daemon = createServer((socket) => socket.on("data", (data) => heard.push(data.toString())));
    await new Promise<void>((ready) => daemon.listen(path, ready));
    await chmod(path, 0o777);
    try {
      const own = join(inside, "own.sock");
      const script = `/usr/bin/python3 -c 'import os, socket, sys
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    if path == "${own}":
        server = socket.socket(socket.AF_UNIX); server.bind(path); server.listen(1)
    try:
        s.connect(path); s.sendall(b"pwned"); print("reached", path)
    except OSError as error:
        print("refused")' ${path} ${own}`;
      const result = await sh(visible(), script);
      expect(result.out).toBe(`refused\nreached ${own}\n`);
      expect(heard).toEqual([]);
    } finally {
      await new Promise<void>((done) => daemon.close(() => done()));
      await rm(runDir, { recursive: true, force: true });
      await rm(join(inside, "own.sock"), { force: true });
    }
  });

  test("reaches no host daemon's unix socket bound through a symbolic link or shown by a bind mount", async () => {
    // The host's table names a socket as its daemon bound it: dockerd binds /var/run/docker.sock,
    // and /var/run is a link to /run on most hosts. A bind mount (a container's, `BindPaths=`)
    // shows the socket under a second path the table never names.
    const runDir = join(root, "linked-run");
    const real = join(runDir, "real");
    const alias = join(root, "alias-run");
    await mkdir(real, { recursive: true });
    await mkdir(alias);
    await symlink("real", join(runDir, "link"));
    const bound = join(runDir, "link", "daemon.sock");
    const heard: string[] = [];
    const daemon = createServer((socket) => socket.on("data", (data) => heard.push(data.toString())));
    await new Promise<void>((ready) => daemon.listen(bound, ready));
    await chmod(join(real, "daemon.sock"), 0o777);
    await command(["mount", "--bind", real, alias]);
    try {
      const script = connectEach(bound, join(real, "daemon.sock"), join(alias, "daemon.sock"));
      const result = await sh(visible(), script);
      expect(result.out).toBe("refused\nrefused\nrefused\n");
      expect(heard).toEqual([]);
    } finally {
      await command(["umount", alias]);
      await new Promise<void>((done) => daemon.close(() => done()));
      await rm(runDir, { recursive: true, force: true });
      await rm(alias, { recursive: true, force: true });
    }
  });

  test("reaches no host daemon's unix socket in a writable root, and keeps another sandbox's there as root", async () => {
    // A tmux server's /tmp/tmux-UID/default, an ssh-agent's socket, a docker.sock in a workspace:
    // a sandbox that may write where they lie would have them act for it outside.
    const path = join(inside, "host.sock");
    const heard: string[] = [];
    const daemon = createServer((socket) => socket.on("data", (data) => heard.push(data.toString())));
    await new Promise<void>((ready) => daemon.listen(path, ready));
    await chmod(path, 0o777);
    // Another sandbox serves its own socket there while this one starts (a dev server, a database).
    const own = join(inside, "other.sock");
    const serving = confined(hidden(), "/usr/bin/python3", [
      "-c",
      `import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); print("listening", flush=True)
c, _ = s.accept(); print(c.recv(16).decode(), flush=True)`,
      own,
    ]);
    if (user === "nobody") await ownTree(inside);
    const other = Bun.spawn([serving.program, ...serving.args], {
      cwd: serving.cwd,
      env: serving.env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const reader = other.stdout.getReader();
      let said = "";
      while (!said.includes("listening\n")) {
        const chunk = await reader.read();
        if (chunk.done) {
          throw new Error(`the other sandbox ended: ${said}${await new Response(other.stderr).text()}`);
        }
        said += new TextDecoder().decode(chunk.value);
      }
      const script = connectEach(path, own);
      const result = await sh(hidden(), script);
      // An unprivileged launcher runs in a user namespace of its own, from which no other sandbox's
      // descriptors can be read (each has its own namespace): it cannot tell that sandbox's socket
      // from a daemon's, and covers it too.
      const reached = user === "root";
      expect(result.out).toBe(`refused\n${reached ? `reached ${own}` : "refused"}\n`);
      expect(heard).toEqual([]);
      if (reached) {
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          said += new TextDecoder().decode(chunk.value);
        }
        expect(said).toBe("listening\npwned\n");
      }
    } finally {
      other.kill();
      await other.exited;
      await new Promise<void>((done) => daemon.close(() => done()));
      await rm(own, { force: true });
    }
  });

  test("cannot move a covered host daemon's socket in a writable root where a later launch misses it", async () => {
    // A launch covers the socket by the path the host's table names, so a sandbox that renamed a
    // directory on the way would have the next launch look where the socket no longer is.
    const dir = join(inside, "sub", "dir");
    await mkdir(dir, { recursive: true });
    const path = join(dir, "daemon.sock");
    const heard: string[] = [];
    const daemon = createServer((socket) => socket.on("data", (data) => heard.push(data.toString())));
    await new Promise<void>((ready) => daemon.listen(path, ready));
    await chmod(path, 0o777);
    try {
      const moved = await sh(
        hidden(),
        "mv sub/dir/daemon.sock sub/dir/m.sock 2>/dev/null || echo kept; " +
          "mv sub/dir sub/dir2 2>/dev/null || echo kept; mv sub moved 2>/dev/null || echo kept",
      );
      expect(moved.out).toBe("kept\nkept\nkept\n");
      const script = `/usr/bin/python3 -c 'import socket, sys
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path); s.sendall(b"pwned"); print("reached", path)
    except OSError as error:
        pass
print("done")' ${path} sub/dir/m.sock sub/dir2/daemon.sock moved/dir/daemon.sock moved/dir2/daemon.sock`;
      expect((await sh(hidden(), script)).out).toBe("done\n");
      expect(heard).toEqual([]);
    } finally {
      await new Promise<void>((done) => daemon.close(() => done()));
      await rm(join(inside, "sub"), { recursive: true, force: true });
      await rm(join(inside, "moved"), { recursive: true, force: true });
    }
  });

  let hostDirs = 0;
  // The churn cases make their launches beside a host program that keeps changing their roots: 3–8 s
  // under load, past 30 s once beside other suites on two busy cores.
  const CHURN_CASE_MS = 90_000;

  /**
   * Runs `program` (a python script given `dir`) on the host, waits for its first line, and makes
   * 20 launches of the policy `policyFor(dir)` beside it; resolves with the launches that failed
   * (`check` says which output counts as failing besides a non-zero exit).
   */
  async function launchesBeside(
    program: string,
    policyFor: (dir: string) => Policy,
    launch: (policy: Policy, dir: string) => Launch = (policy) =>
      confined(policy, "/bin/true", [], { argv0: "true" }),
    check: (out: string) => boolean = () => true,
  ): Promise<string[]> {
    // Made by mkdir, not mkdtemp: mode 0755, so that a launcher run as nobody may look in.
    const dir = join(root, `host-${++hostDirs}`);
    await mkdir(dir);
    const host = Bun.spawn(["/usr/bin/python3", "-c", program, dir], { stdin: "ignore", stdout: "pipe" });
    try {
      await host.stdout.getReader().read();
      const failures: string[] = [];
      for (let round = 0; round < 20; round++) {
        const result = await launched(launch(policyFor(dir), dir));
        if (result.code !== 0 || !check(result.out)) failures.push(`${result.code}: ${result.out}`);
      }
      return failures;
    } finally {
      host.kill("SIGKILL");
      await host.exited;
      await rm(dir, { recursive: true, force: true });
    }
  }

  test("starts while host programs bind and remove sockets in its roots", async () => {
    // Editors, language servers and test runners bind short-lived sockets under /tmp all the time:
    // one removed after the host's table listed it, while the launch covered it, failed the launch.
    expect(await launchesBeside(SOCKET_CHURN, (dir) => ({ ...hidden(), writable: [inside, dir] }))).toEqual(
      [],
    );
  }, CHURN_CASE_MS);

  test("starts while the host saves a denied file in its roots again and again", async () => {
    // An editor saves by renaming a new file over the old one: a save between the launcher's
    // finding the file and its covering it took the name from the file it was about to cover.
    const policyFor = (dir: string): Policy => ({
      ...hidden(),
      writable: [inside, dir],
      denied: [join(dir, ".env")],
    });
    expect(await launchesBeside(EDITOR_SAVES, policyFor)).toEqual([]);
  }, CHURN_CASE_MS);

  test("starts while the host saves a file it shows as a root again and again", async () => {
    // \`git config --global\` and editors save by renaming a new file over the old one: a save
    // between the launcher's lookup of a file root and its bind took the file it had checked away.
    const failures = await launchesBeside(
      EDITOR_SAVES,
      (dir) => ({ ...hidden(), readable: [...MINIMAL_PATHS, join(dir, ".env")] }),
      (policy, dir) => confined(policy, "/bin/sh", ["-c", `cat ${join(dir, ".env")}`], { argv0: "sh" }),
      (out) => /^TOKEN=\d+$/.test(out.trim()),
    );
    expect(failures).toEqual([]);
  }, CHURN_CASE_MS);

  test("a spare launcher takes its argv from stdin, confines the program and leaves it the rest of stdin", async () => {
    const launch = confined(hidden(), "/bin/sh", ["-c", `cat; cat ${secret} 2>/dev/null || echo hidden`], {
      argv0: "sh",
    });
    const spare: Launch = { ...launch, args: [...launch.handoff.spareArgs] };
    const argv = new TextDecoder().decode(encodeStdinArgs(launch.handoff.stdinArgs));
    expect(await launched(spare, `${argv}for the program\n`)).toEqual({
      code: 0,
      out: "for the program\nhidden\n",
    });
    // Its server gone before it was needed: it ends quietly.
    expect(await launched(spare, "")).toEqual({ code: SANDBOX_EXIT.usage, out: "" });
    const malformed = await launched(spare, "12\n[]");
    expect(codeOf(malformed, SANDBOX_EXIT.usage)).toBe(SANDBOX_EXIT.usage);
    expect(malformed.out).toContain("argv on stdin");
    const probe = await launched(spare, new TextDecoder().decode(encodeStdinArgs(["--probe"])));
    expect(codeOf(probe, SANDBOX_EXIT.usage)).toBe(SANDBOX_EXIT.usage);
    await expectOutsideIntact();
  });

  test("a sandboxed program cannot write a waiting spare launcher's argv", async () => {
    const launch = confined(hidden(), "/bin/true", [], { argv0: "true" });
    const spare = Bun.spawn([launch.program, ...launch.handoff.spareArgs], {
      cwd: launch.cwd,
      env: launch.env,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const pid = spare.pid;
    const attack = await sh(
      hidden(),
      `for path in /proc/${pid}/fd/0 /proc/self/root/proc/${pid}/fd/0; do ` +
        `{ printf '00000008\\n["--probe"]' > "$path"; } 2>/dev/null && echo "reached $path"; done; echo done`,
    );
    expect(attack).toEqual({ code: 0, out: "done\n" });
    // Where the host gives no mount namespace (a launch without it, so /proc shows every process)
    // and the policy reads everything, Landlock keeps the sandbox out of another domain's files.
    const everything: Policy = { ...hidden(), readable: ["/"] };
    const bare = confined(everything, "/bin/sh", [
      "-c",
      `{ printf '00000008\\n["--probe"]' > /proc/${pid}/fd/0; } 2>/dev/null || echo refused`,
    ], { argv0: "sh" });
    // The launcher's own `--` (a user-namespace helper in front has some too).
    const separator = bare.args.lastIndexOf("--");
    const withoutMounts = await launched({
      ...bare,
      args: [...bare.args.slice(0, separator), "--without", "mount-ns", ...bare.args.slice(separator)],
    });
    expect(withoutMounts).toEqual({ code: 0, out: "refused\n" });
    // Nothing reached it: at the end of its stdin it ends quietly, as an unused spare does.
    await spare.stdin.end();
    const [out, err, code] = await Promise.all([
      new Response(spare.stdout).text(),
      new Response(spare.stderr).text(),
      spare.exited,
    ]);
    expect({ code, out: out + err }).toEqual({ code: SANDBOX_EXIT.usage, out: "" });
  });

  test("exits with its documented statuses when it cannot run the program", async () => {
    const [program = "", ...args] = context.command(context.launcher, [
      "sandbox-exec",
      "--network",
      "maybe",
      "--",
      "/bin/true",
    ]);
    const usage = await run({ program, args, env: context.env, cwd: "/" });
    expect(codeOf(usage, SANDBOX_EXIT.usage)).toBe(SANDBOX_EXIT.usage);
    const missing = await run(confined(hidden(), "/usr/bin/no-such-program", [], { argv0: "x" }));
    expect(codeOf(missing, SANDBOX_EXIT.notFound)).toBe(SANDBOX_EXIT.notFound);
    expect(missing.out).toContain("sandbox");
    const denied = await run(confined(hidden(), join(outside, "true"), [], { argv0: "true" }));
    expect(codeOf(denied, SANDBOX_EXIT.notFound)).toBe(SANDBOX_EXIT.notFound);
    const notExecutable = await run(
      confined({ ...hidden(), readable: [...MINIMAL_PATHS, root] }, secret, [], { argv0: "secret" }),
    );
    expect(codeOf(notExecutable, SANDBOX_EXIT.exec)).toBe(SANDBOX_EXIT.exec);
    const cwdHidden = await run(confined(hidden(), "/bin/true", [], { argv0: "true", cwd: outside }));
    expect(codeOf(cwdHidden, SANDBOX_EXIT.mountNamespace)).toBe(SANDBOX_EXIT.mountNamespace);
    expect(cwdHidden.out).toContain("is not visible in the sandbox");
  });

  describe("network", () => {
    let server: Server;
    let port = 0;
    beforeAll(async () => {
      server = createServer((socket) => socket.end("hello from host\n"));
      await new Promise<void>((ready) => server.listen(0, "::", ready));
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("no port");
      port = address.port;
    });
    afterAll(async () => {
      await new Promise<void>((done) => server.close(() => done()));
    });

    const connect = (host: string): string => `bash -c 'exec 3<>/dev/tcp/${host}/${port} && cat <&3'`;

    test("denies TCP over IPv4 and IPv6 with the network off", async () => {
      for (const host of ["127.0.0.1", "::1"]) {
        const result = await sh(hidden(false), connect(host));
        expect(result.code).not.toBe(0);
        expect(result.out).not.toContain("hello from host");
        expect(result.out).toContain("Operation not permitted");
      }
    });

    test("allows TCP with the network on", async () => {
      for (const host of ["127.0.0.1", "::1"]) {
        expect(await sh(hidden(true), connect(host))).toEqual({ code: 0, out: "hello from host\n" });
      }
    });

    test("denies UDP with the network off and allows it with the network on", async () => {
      const socket = createSocket("udp4");
      const received: string[] = [];
      socket.on("message", (message) => received.push(message.toString()));
      await new Promise<void>((ready) => socket.bind(0, "127.0.0.1", ready));
      const udpPort = socket.address().port;
      try {
        const send = (word: string): string => `bash -c 'echo ${word} > /dev/udp/127.0.0.1/${udpPort}'`;
        const off = await sh(hidden(false), send("blocked"));
        expect(off.code).not.toBe(0);
        expect(off.out).toContain("Operation not permitted");
        const on = await sh(hidden(true), send("allowed"));
        expect(on.code).toBe(0);
        while (!received.includes("allowed\n")) await new Promise((tick) => socket.once("message", tick));
        expect(received).toEqual(["allowed\n"]);
      } finally {
        socket.close();
      }
    });
  });

  test("the fs worker chain reads inside and not outside", async () => {
    await writeFile(join(inside, "data.txt"), "inside data");
    const launch = workerLaunch(context, hidden());
    const expected: [string, boolean][] = [
      [join(inside, "data.txt"), true],
      [secret, false],
      [join(inside, "link"), false],
      ["/etc/hostname", true],
      ["/proc/1/environ", false],
    ];
    const result = await launched(launch, expected.map(([path]) => path).join("\n") + "\n");
    expect(codeOf(result, 0)).toBe(0);
    // Each stdout line is one JSON answer of the stand-in worker.
    const answers = result.out.trim().split("\n").map((line) =>
      JSON.parse(line) as { path: string; ok: boolean }
    );
    expect(answers.map((answer): [string, boolean] => [answer.path, answer.ok])).toEqual(expected);
    expect(result.out).not.toContain("top secret");
    await expectOutsideIntact();
  });
});
