/**
 * The server's own files and its token file against the sandbox, wherever their paths lead
 * (docs/security.md): a server started with a temp dir and a token file named through a symbolic
 * link, and servers that share one temp dir, whose sandboxes try to read the token and to change
 * what a later launch of either server runs before confinement (the join helper, the launcher and
 * worker bundles). Each case goes through the real servers under Bun and under Deno.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { CallError, TestClient } from "../helpers/client.ts";
import { RUNTIMES, serverCommand, startServer } from "../helpers/server.ts";
import type { RuntimeName, TestServer } from "../helpers/server.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { CHILD_PATH, startParams } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import type { TempDir } from "../helpers/temp_dir.ts";

/** A stand-in for another server that declares its own files. */
const DECLARED_FIXTURE = join(import.meta.dir, "../fixtures/declared_server_fixture.ts");
/** The uid of `nobody`, as which the unprivileged server runs. */
const NOBODY = 65534;
/** A managed profile (`managedSandbox`) with these roots, each readable or writable. */
function profile(entries: Array<[string, "read" | "write"]>): Record<string, unknown> {
  const of = (access: "read" | "write") =>
    entries.filter((entry) => entry[1] === access).map(([path]) => pathToUri(path));
  return managedSandbox({ write: of("write"), read: of("read") });
}

/** Codex's default for an agent that may edit its workspace: the cwd and `$TMPDIR` writable. */
function workspaceWrite(): Record<string, unknown> {
  return {
    sandboxPolicy: {
      type: "workspace-write",
      writable_roots: [],
      read_only_access: { type: "restricted", include_platform_defaults: true },
      exclude_slash_tmp: true,
      exclude_tmpdir_env_var: false,
    },
    windowsSandboxLevel: "disabled",
  };
}

let ids = 0;

/** Runs `script` under `sh -c`; resolves with its output once it has closed. */
async function run(
  client: TestClient,
  script: string,
  options: { cwd: string; sandbox: unknown },
): Promise<string> {
  const id = `f${++ids}`;
  await client.call(
    "process/start",
    startParams(id, ["sh", "-c", script], options.cwd, { env: CHILD_PATH, sandbox: options.sandbox }),
  );
  await client.untilClosed(id);
  return client.outputText(id);
}

/** What a sandboxed `fs/readFile` of `path` gives: the text, or the error's code. */
async function readThrough(client: TestClient, path: string, sandbox: unknown): Promise<string> {
  return await client.call("fs/readFile", { path: pathToUri(path), sandbox }).then(
    (result) => Buffer.from(String(result["dataBase64"]), "base64").toString(),
    (error: unknown) => (error instanceof CallError ? `error ${error.reply.code}` : String(error)),
  );
}

/** Every file named `name` below `dir` (a few levels deep), as the host sees it. */
async function findFiles(dir: string, name: string, depth = 4): Promise<string[]> {
  if (depth === 0) return [];
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name === name) found.push(path);
    else if (entry.isDirectory()) found.push(...await findFiles(path, name, depth - 1));
  }
  return found.sort();
}

/** The state directories below `dir` (in a user's directory of them or not), as the host sees them. */
async function stateDirsBelow(dir: string, depth = 3): Promise<string[]> {
  if (depth === 0) return [];
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    if (/^exec-server-\d+-[A-Za-z0-9]{6}$/.test(entry.name)) found.push(path);
    else found.push(...await stateDirsBelow(path, depth - 1));
  }
  return found.sort();
}

/** What servers run from their state directories below `dir`: join helpers and bundles. */
async function launchFiles(dir: string): Promise<string[]> {
  const names = ["join-helper", "launcher.js", "launcher.js.jsc", "worker.js", "worker.js.jsc"];
  const found = await Promise.all(names.map((name) => findFiles(dir, name, 5)));
  return found.flat().sort();
}

/** The bytes of each file, to see afterwards that none of them changed. */
async function contents(paths: readonly string[]): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  for (const path of paths) map.set(path, (await fs.readFile(path)).toString("base64"));
  return map;
}

/**
 * The shell of a sandbox that attacks what servers keep below `dir`: it replaces every join
 * helper with a script that leaves `marker` and goes on, prepends code that leaves `marker` to
 * every launcher and worker bundle (dropping their bytecode), and plants a file in every
 * directory of a server (`planted`).
 */
function attackScript(dir: string, marker: string): string {
  const text = `${JSON.stringify(marker)},"bundle ran unconfined\\n"`;
  // CommonJS under Bun, Deno's own API under Deno: the bundles are loaded either way.
  const js = `try{require("fs").writeFileSync(${text})}catch{try{Deno.writeTextFileSync(${text})}catch{}}`;
  return [
    `for h in $(find ${dir} -name join-helper 2>/dev/null); do`,
    `  printf '#!/bin/sh\\necho helper ran unconfined > ${marker}\\nwhile [ "$1" != -- ]; do shift; done; shift; p=$1; shift 2; exec "$p" "$@"\\n' > "$h.new"`,
    `  chmod 755 "$h.new"; mv -f "$h.new" "$h" 2>/dev/null || cat "$h.new" > "$h"; done`,
    `for f in $(find ${dir} -name launcher.js -o -name worker.js 2>/dev/null); do`,
    `  { printf '%s\\n' '${js}'; cat "$f"; } > "$f.new" && mv -f "$f.new" "$f"; rm -f "$f.jsc"; done`,
    `for d in $(find ${dir} -maxdepth 3 -type d -name 'exec-server-*' 2>/dev/null); do touch "$d/planted"; done`,
    "echo tried",
  ].join("\n");
}

/** Whether anything below `dir` is called `planted`. */
async function plantedBelow(dir: string): Promise<string[]> {
  return await findFiles(dir, "planted", 5);
}

describe.each(RUNTIMES)(
  "a server whose temp dir and token file are named through a symlink, on %s",
  (runtime) => {
    let dir: TempDir | null = null;
    let server: TestServer | null = null;
    let token = "";
    const paths = () => {
      if (dir === null) throw new Error("the world has not been made");
      const root = dir.path;
      return { root, real: join(root, "real"), link: join(root, "link"), out: join(root, "out") };
    };
    const session = async (): Promise<TestClient> => {
      if (server === null) throw new Error("the server has not started");
      const client = await TestClient.connect(server.url, { headers: { Authorization: `Bearer ${token}` } });
      await client.initialize();
      return client;
    };

    beforeAll(async () => {
      dir = await tempDir();
      const { real, link, out } = paths();
      await fs.mkdir(real);
      await fs.mkdir(out);
      await fs.symlink("real", link);
      token = randomBytes(18).toString("hex");
      await fs.writeFile(join(link, "token"), `${token}\n`, { mode: 0o600 });
      server = await startServer({
        runtime,
        args: ["--ws-auth", "capability-token", "--ws-token-file", join(link, "token")],
        env: { TMPDIR: link },
      });
    });
    afterAll(async () => {
      await server?.[Symbol.asyncDispose]();
      await dir?.[Symbol.asyncDispose]();
    });

    test("no sandbox reads the token file, whichever spelling its roots use", async () => {
      const { root, real, link, out } = paths();
      await using client = await session();
      // `root` writable last: from then on the server refuses a root through `link`, which lies in it
      // (a sandbox could have planted it), and the spellings through the link would go untried.
      const policies: Array<Array<[string, "read" | "write"]>> = [
        [[link, "write"], [out, "write"]],
        [[link, "read"], [out, "write"]],
        [[real, "read"], [out, "write"]],
        [[root, "read"], [out, "write"]],
        [[root, "write"]],
      ];
      for (const entries of policies) {
        const sandbox = profile(entries);
        const shown = await run(client, `cat ${link}/token ${real}/token 2>/dev/null; echo tried`, {
          cwd: out,
          sandbox,
        });
        expect([entries, shown.includes(token), shown.includes("tried")]).toEqual([entries, false, true]);
        for (const path of [join(link, "token"), join(real, "token")]) {
          const read = await readThrough(client, path, sandbox);
          expect([entries, path, read.includes(token)]).toEqual([entries, path, false]);
        }
      }
    });

    test("no sandbox changes the state directory, whichever spelling its roots use", async () => {
      const { root, real, link, out } = paths();
      await using client = await session();
      expect(await stateDirsBelow(real)).toHaveLength(1);
      const files = await launchFiles(real);
      const before = await contents(files);
      const marker = join(out, "pwned");
      for (const writable of [link, real, root]) {
        const said = await run(client, attackScript(real, marker), {
          cwd: out,
          sandbox: profile([[writable, "write"], [out, "write"]]),
        }).catch((error: unknown) => {
          // The token case made `root` writable on this server before: a root through `link`, which
          // lies in it, is refused from then on (a sandbox could have planted it).
          if (writable === link && error instanceof CallError && error.reply.code === -32602) {
            return "tried\n";
          }
          throw error;
        });
        expect([writable, said.endsWith("tried\n")]).toEqual([writable, true]);
      }
      // The next launches, plain and sandboxed, run the server's own helper.
      await expectUntouched(client, { out, files, before, below: real, marker });
    });
  },
);

/**
 * What an attack left: the server's next launches, plain and sandboxed, run its own helper, the
 * files it runs before confinement are as they were, nothing was planted below `below`, and the
 * attack's marker was never written.
 */
async function expectUntouched(
  client: TestClient,
  seen: { out: string; files: string[]; before: Map<string, string>; below: string; marker: string },
): Promise<void> {
  const { out, files, before, below, marker } = seen;
  expect(await run(client, "echo plain", { cwd: out, sandbox: null })).toBe("plain\n");
  expect(await run(client, "echo confined", { cwd: out, sandbox: profile([[out, "write"]]) })).toBe(
    "confined\n",
  );
  expect(await contents(files)).toEqual(before);
  expect(await plantedBelow(below)).toEqual([]);
  expect(await fs.readFile(marker, "utf8").catch(() => "none")).toBe("none");
}

/** Runs a host command; throws with its output when it fails. */
async function hostCommand(argv: readonly string[]): Promise<void> {
  const child = Bun.spawn([...argv], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0) throw new Error(`${argv.join(" ")}: ${out}${err}`);
}

describe.each(RUNTIMES)("a server whose files a bind mount shows under a second path, on %s", (runtime) => {
  test("no sandbox reads its token or changes its state directory through that path", async () => {
    // The host shows the token's directory and the temp dir a second time (a bind mount, as
    // containers and `BindPaths=` make): a real path never names them.
    await using dir = await tempDir();
    const tmp = join(dir.path, "tmp");
    const out = join(dir.path, "out");
    const secrets = join(dir.path, "secrets");
    const tmpAlias = join(dir.path, "tmp-alias");
    const secretsAlias = join(dir.path, "secrets-alias");
    for (const path of [tmp, out, secrets, tmpAlias, secretsAlias]) await fs.mkdir(path);
    const token = randomBytes(18).toString("hex");
    await fs.writeFile(join(secrets, "token"), `${token}\n`, { mode: 0o600 });
    await hostCommand(["mount", "--bind", tmp, tmpAlias]);
    await hostCommand(["mount", "--bind", secrets, secretsAlias]);
    try {
      await using x = await startServer({
        runtime,
        args: ["--ws-auth", "capability-token", "--ws-token-file", join(secrets, "token")],
        env: { TMPDIR: tmp },
      });
      await using onX = await TestClient.connect(x.url, { headers: { Authorization: `Bearer ${token}` } });
      await onX.initialize();
      const aliasToken = join(secretsAlias, "token");
      const sandbox = profile([[secretsAlias, "read"], [out, "write"]]);
      const shown = await run(onX, `cat ${aliasToken} 2>/dev/null; echo tried`, { cwd: out, sandbox });
      expect(shown.includes(token)).toBe(false);
      expect((await readThrough(onX, aliasToken, sandbox)).includes(token)).toBe(false);
      const files = await launchFiles(tmp);
      const before = await contents(files);
      const marker = join(out, "pwned");
      const said = await run(onX, attackScript(tmpAlias, marker), {
        cwd: out,
        sandbox: profile([[tmpAlias, "write"], [out, "write"]]),
      });
      expect(said).toEndWith("tried\n");
      await expectUntouched(onX, { out: out, files, before, below: tmp, marker });
    } finally {
      await hostCommand(["umount", "-l", tmpAlias]);
      await hostCommand(["umount", "-l", secretsAlias]);
    }
  }, 60_000);
});

describe.each(RUNTIMES)("servers that share a temp dir, on %s", (runtime) => {
  test("a sandbox of one cannot change what the other runs before confinement", async () => {
    await using dir = await tempDir();
    const tmp = join(dir.path, "tmp");
    const out = join(dir.path, "out");
    await fs.mkdir(tmp);
    await fs.mkdir(out);
    await using x = await startServer({ runtime, env: { TMPDIR: tmp } });
    await using y = await startServer({ runtime, env: { TMPDIR: tmp } });
    await using onX = await x.session();
    await using onY = await y.session();
    expect(await stateDirsBelow(tmp)).toHaveLength(2);
    const files = await launchFiles(tmp);
    const before = await contents(files);
    const marker = join(out, "pwned");
    // Codex's workspace-write: its cwd and `$TMPDIR` writable.
    expect(await run(onX, attackScript(tmp, marker), { cwd: out, sandbox: workspaceWrite() })).toEndWith(
      "tried\n",
    );
    await expectUntouched(onY, { out, files, before, below: tmp, marker });
  }, 60_000);

  test("a sandbox of one cannot read the token file of the other", async () => {
    // Codex's read-only policy reads the whole disk; here a root that holds the other server's token
    // file, readable or writable. The token admits any local user to that server, or anyone where
    // it listens beyond loopback: a sandbox with the network on could send it out.
    await using dir = await tempDir();
    const tmp = join(dir.path, "tmp");
    const out = join(dir.path, "out");
    const secrets = join(dir.path, "secrets");
    for (const path of [tmp, out, secrets]) await fs.mkdir(path);
    const token = randomBytes(18).toString("hex");
    const tokenFile = join(secrets, "token");
    await fs.writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    await using x = await startServer({
      runtime,
      args: ["--ws-auth", "capability-token", "--ws-token-file", tokenFile],
      env: { TMPDIR: tmp },
    });
    await using y = await startServer({ runtime, env: { TMPDIR: tmp } });
    await using onY = await y.session();
    for (const entries of [[[secrets, "read"], [out, "write"]], [[dir.path, "write"]]] as const) {
      const sandbox = profile(entries.map(([path, access]): [string, "read" | "write"] => [path, access]));
      const shown = await run(onY, `cat ${tokenFile} 2>/dev/null; echo tried`, { cwd: out, sandbox });
      expect([entries, shown.includes(token), shown.includes("tried")]).toEqual([entries, false, true]);
      expect([entries, (await readThrough(onY, tokenFile, sandbox)).includes(token)]).toEqual([
        entries,
        false,
      ]);
    }
    // The other server still serves its own clients with it.
    await using onX = await TestClient.connect(x.url, { headers: { Authorization: `Bearer ${token}` } });
    await onX.initialize();
  }, 60_000);

  test("a server's declared secrets are hidden only where they belong to its user", async () => {
    // Any local user's server may declare: one that named another user's file would hide it from
    // every other server's sandboxes. A stand-in run as root declares a root file and one of nobody.
    await using dir = await tempDir();
    const tmp = join(dir.path, "tmp");
    const out = join(dir.path, "out");
    for (const path of [tmp, out]) await fs.mkdir(path);
    const mine = join(dir.path, "mine");
    const theirs = join(dir.path, "theirs");
    await fs.writeFile(mine, "root's secret\n", { mode: 0o600 });
    await fs.writeFile(theirs, "nobody's file\n", { mode: 0o644 });
    await fs.chown(theirs, NOBODY, NOBODY);
    await using x = await startServer({ runtime, env: { TMPDIR: tmp } });
    await using onX = await x.session();
    const other = Bun.spawn([process.execPath, DECLARED_FIXTURE, "--secret", mine, theirs], {
      env: { ...process.env, TMPDIR: tmp },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    });
    try {
      const first = await other.stdout.getReader().read();
      expect(new TextDecoder().decode(first.value)).toStartWith(tmp);
      const sandbox = profile([[dir.path, "read"], [out, "write"]]);
      const shown = await run(onX, `cat ${mine} ${theirs} 2>/dev/null; echo tried`, { cwd: out, sandbox });
      expect(shown).toBe("nobody's file\ntried\n");
    } finally {
      await other.stdin.end();
      await other.exited;
    }
  }, 60_000);

  test(
    "a sandbox of one cannot change the state directory of a server of its user that starts later",
    async () => {
      await using dir = await tempDir();
      const tmp = join(dir.path, "tmp");
      const out = join(dir.path, "out");
      await fs.mkdir(tmp);
      await fs.mkdir(out);
      await using x = await startServer({ runtime, env: { TMPDIR: tmp } });
      await using onX = await x.session();
      const marker = join(out, "pwned");
      // The sandbox runs before the other server exists, and attacks once told it does.
      await onX.call(
        "process/start",
        startParams("waiting", ["sh", "-c", `read go; ${attackScript(tmp, marker)}`], out, {
          env: CHILD_PATH,
          sandbox: workspaceWrite(),
          pipeStdin: true,
        }),
      );
      await using y = await startServer({ runtime, env: { TMPDIR: tmp } });
      await using onY = await y.session();
      expect(await stateDirsBelow(tmp)).toHaveLength(2);
      const files = await launchFiles(tmp);
      const before = await contents(files);
      expect(
        await onX.call("process/write", {
          processId: "waiting",
          chunk: Buffer.from("go\n").toString("base64"),
        }),
      )
        .toEqual({ status: "accepted" });
      await onX.untilClosed("waiting");
      expect(onX.outputText("waiting")).toEndWith("tried\n");
      expect(await run(onY, "echo plain", { cwd: out, sandbox: null })).toBe("plain\n");
      expect(await contents(files)).toEqual(before);
      expect(await plantedBelow(tmp)).toEqual([]);
      expect(await fs.readFile(marker, "utf8").catch(() => "none")).toBe("none");
    },
    60_000,
  );

  test(
    "a sandbox of one cannot change the installation of another that its writable roots hold",
    async () => {
      // Another server whose runtime, program or bundles lie in this server's workspace (a second
      // checkout there): the other server's launches run them before they confine themselves. A
      // stand-in declares them as a server does.
      await using dir = await tempDir();
      const tmp = join(dir.path, "tmp");
      const out = join(dir.path, "out");
      const install = join(dir.path, "install");
      for (const path of [tmp, out, install]) await fs.mkdir(path);
      const bundle = join(install, "launcher.js");
      await fs.writeFile(bundle, "// the other server's launcher\n");
      await using x = await startServer({ runtime, env: { TMPDIR: tmp } });
      await using onX = await x.session();
      const other = Bun.spawn([process.execPath, DECLARED_FIXTURE, bundle], {
        env: { ...process.env, TMPDIR: tmp },
        stdin: "pipe",
        stdout: "pipe",
        stderr: "inherit",
      });
      try {
        const reader = other.stdout.getReader();
        const first = await reader.read();
        expect(new TextDecoder().decode(first.value)).toStartWith(tmp);
        const script = `echo pwned >> ${bundle} && echo wrote; echo tried`;
        const output = await run(onX, script, { cwd: out, sandbox: profile([[dir.path, "write"]]) });
        expect(output).toEndWith("tried\n");
        expect(output).not.toContain("wrote");
        expect(await fs.readFile(bundle, "utf8")).toBe("// the other server's launcher\n");
      } finally {
        await other.stdin.end();
        await other.exited;
      }
    },
    60_000,
  );

  test("a root server's sandbox cannot change the bundles of a server run as nobody", async () => {
    await using dir = await tempDir();
    const tmp = join(dir.path, "tmp");
    const out = join(dir.path, "out");
    const home = join(dir.path, "home");
    // The nobody server reaches its temp dir through this one.
    await fs.chmod(dir.path, 0o755);
    for (const path of [tmp, out, home]) {
      await fs.mkdir(path);
      await fs.chown(path, NOBODY, NOBODY);
    }
    await fs.chmod(tmp, 0o1777);
    await using nobody = await startNobody(runtime, { TMPDIR: tmp, HOME: home });
    await using x = await startServer({ runtime, env: { TMPDIR: tmp } });
    await using onNobody = await nobody.session();
    await using onX = await x.session();
    const confined = profile([[out, "write"]]);
    // Its first sandboxed launch waits for its bundles, which it keeps in its state directory.
    expect(await run(onNobody, "echo first", { cwd: out, sandbox: confined })).toBe("first\n");
    const bundles = await launchFiles(tmp);
    expect(bundles.filter((path) => path.endsWith("/launcher.js"))).toHaveLength(1);
    const before = await contents(bundles);
    const marker = join(out, "pwned");
    expect(await run(onX, attackScript(tmp, marker), { cwd: out, sandbox: workspaceWrite() })).toEndWith(
      "tried\n",
    );
    expect(await run(onNobody, "echo next", { cwd: out, sandbox: confined })).toBe("next\n");
    expect(await contents(bundles)).toEqual(before);
    expect(await plantedBelow(tmp)).toEqual([]);
    expect(await fs.readFile(marker, "utf8").catch(() => "none")).toBe("none");
  }, 90_000);
});

/** A server run as `nobody` with `env`; `--allow-local-users` lets the tests, as root, use it. */
async function startNobody(runtime: RuntimeName, env: Record<string, string>): Promise<TestServer> {
  const drop = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--"];
  return await startServer({
    runtime,
    command: [...drop, ...serverCommand(runtime)],
    args: ["--allow-local-users"],
    env,
  });
}

describe.each(RUNTIMES)("the join helper on %s", (runtime) => {
  test.skipIf(process.arch !== "x64")(
    "is a sealed memfd of the server, in no directory a sandbox could write",
    async () => {
      await using dir = await tempDir();
      await using server = await startServer({ runtime, env: { TMPDIR: dir.path } });
      await using client = await server.session();
      expect(await run(client, "echo plain", { cwd: dir.path, sandbox: null })).toBe("plain\n");
      const fds = `/proc/${server.child.pid}/fd`;
      const sealed: string[] = [];
      for (const fd of await fs.readdir(fds)) {
        const target = await fs.readlink(join(fds, fd)).catch(() => "");
        if (target.startsWith("/memfd:exec-server-join-helper")) sealed.push(join(fds, fd));
      }
      expect(sealed).toHaveLength(1);
      const write = await fs.appendFile(sealed[0] ?? "", "x").then(() => "written", (error: unknown) => {
        return error instanceof Error && "code" in error ? error.code : String(error);
      });
      expect(write).toBe("EPERM");
      expect(await findFiles(dir.path, "join-helper")).toEqual([]);
    },
  );
});

/**
 * A tree owned by nobody under `root`: `work` (the sandbox's writable root) with a `bin` first on
 * the server's PATH (holding a copy of the system's `unshare` when `copy`), `outside` where no
 * sandbox writes, and the script a sandbox plants as `bin/unshare`, which leaves `marker` when it
 * runs anywhere before passing on to the system's.
 */
async function unshareWorld(root: string, { copy }: { copy: boolean }) {
  const work = join(root, "work");
  const bin = join(work, "bin");
  const outside = join(root, "outside");
  await fs.mkdir(bin, { recursive: true });
  await fs.mkdir(outside);
  if (copy) await fs.copyFile("/usr/bin/unshare", join(bin, "unshare"));
  const owned = [root, work, bin, outside, ...(copy ? [join(bin, "unshare")] : [])];
  for (const path of owned) await fs.chown(path, NOBODY, NOBODY);
  const marker = join(outside, "pwned");
  return {
    work,
    marker,
    env: { PATH: `${bin}:${CHILD_PATH.PATH}`, HOME: root },
    planted: `#!/bin/sh\\necho unconfined > ${marker}\\nexec /usr/bin/unshare "$@"\\n`,
    confined: profile([[work, "write"]]),
  };
}

describe.each(RUNTIMES)("the user-namespace helper of an unprivileged server on %s", (runtime) => {
  test("cannot be changed by a sandbox whose writable roots hold it", async () => {
    // `unshare` runs unconfined before the launcher at every sandboxed start. The system's comes
    // first; where a host has none it is looked up on the server's PATH, whose first directories
    // may be a user's or a project's. This host has /usr/bin/unshare, so the copy on PATH is not
    // the helper here: the case checks that the sandbox's script runs nowhere either way.
    await using dir = await tempDir();
    const w = await unshareWorld(dir.path, { copy: true });
    await using server = await startNobody(runtime, w.env);
    await using client = await server.session();
    await run(client, `printf '${w.planted}' > bin/unshare && echo planted`, {
      cwd: w.work,
      sandbox: w.confined,
    });
    expect(await run(client, "echo next", { cwd: w.work, sandbox: w.confined })).toBe("next\n");
    expect(await fs.readFile(w.marker, "utf8").catch(() => "none")).toBe("none");
  }, 60_000);

  test(
    "is not one a sandbox planted ahead of the system's on the PATH of the server's next start",
    async () => {
      // A PATH directory that a sandbox may write and that has no `unshare` yet (a project's
      // node_modules/.bin, which `bun run` and npx put first, or ~/.local/bin): what the sandbox
      // leaves there is no file of the running server, and the next server would find it first.
      await using dir = await tempDir();
      const w = await unshareWorld(dir.path, { copy: false });
      {
        await using server = await startNobody(runtime, w.env);
        await using client = await server.session();
        const plant = `printf '${w.planted}' > bin/unshare && chmod 755 bin/unshare && echo planted`;
        expect(await run(client, plant, { cwd: w.work, sandbox: w.confined })).toBe("planted\n");
      }
      await using next = await startNobody(runtime, w.env);
      await using client = await next.session();
      expect(await run(client, "echo next", { cwd: w.work, sandbox: w.confined })).toBe("next\n");
      expect(await fs.readFile(w.marker, "utf8").catch(() => "none")).toBe("none");
    },
    60_000,
  );
});
