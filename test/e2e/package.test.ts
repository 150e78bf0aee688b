/**
 * The package as a user gets it: `npm pack` of a copy of the checkout, installed into empty
 * directories with `bun add` and `npm install`, and served through `bunx exec-server`, through
 * `deno run -A --no-config node_modules/exec-server/dist/exec-server.js`, and through the compiled executable
 * copied alone into an empty directory. Packing, installing and compiling happen once, in
 * `beforeAll`; nothing is written into the checkout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFile, spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import {
  access,
  copyFile,
  cp,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { z } from "zod";
import { InitializeResultSchema } from "../../src/protocol/mod.ts";
import {
  compiledExecutablePath,
  DEPLOY_TOKEN,
  dockerfile,
  expectDeployedServer,
  localCommandLine,
  PACKAGE_VERSION,
} from "../docs/deploy_snippets.ts";
import { TestClient } from "../helpers/client.ts";
import { descendants } from "../helpers/proc.ts";
import { startCommandLine, startServer, TEST_RUNTIME_ENV } from "../helpers/server.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import type { RuntimeName } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";
import { codeBlocks, readDoc } from "../docs/markdown.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dir, "..", "..");
const BIN = join(ROOT, "node_modules", ".bin");
/** Bun and Deno come from the checkout's node_modules, as after `npm ci`. */
const PATH = `${BIN}:${process.env["PATH"] ?? "/usr/bin:/bin"}`;
const SETUP_TIMEOUT_MS = 90_000;
/** What the build and the package need from the checkout. */
const CHECKOUT_ENTRIES = [
  "package.json",
  "README.md",
  "LICENSE",
  "mod.ts",
  "src",
  "worker",
  "docs",
  "tsconfig.types.json",
];

let work = "";
/** Where each way of running it lives. */
const dirs = { checkout: "", bunApp: "", npmApp: "", alone: "" };
let tarball = "";

/** Runs `argv` in `cwd`; throws with its output when it fails. */
async function step(cwd: string, argv: string[], env: Record<string, string> = {}): Promise<void> {
  const [command = "", ...args] = argv;
  try {
    await run(command, args, { cwd, env: { ...process.env, PATH, ...env }, maxBuffer: 16 << 20 });
  } catch (error) {
    // execFile's rejection carries the child's output.
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${argv.join(" ")} failed in ${cwd}: ${stderr}${stdout}`);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "exec-server-package-"));
  for (const name of ["checkout", "bunApp", "npmApp", "alone"] as const) {
    dirs[name] = join(work, name);
    await mkdir(dirs[name]);
  }
  // Each app is a project of its own, so neither bun nor npm walks up to install somewhere else.
  for (const app of [dirs.bunApp, dirs.npmApp]) {
    await writeFile(join(app, "package.json"), JSON.stringify({ name: "app", private: true }) + "\n");
  }
  for (const entry of CHECKOUT_ENTRIES) {
    await cp(join(ROOT, entry), join(dirs.checkout, entry), { recursive: true });
  }
  await symlink(join(ROOT, "node_modules"), join(dirs.checkout, "node_modules"));
  await step(dirs.checkout, ["npm", "pack", "--pack-destination", work]);
  tarball = join(work, `exec-server-${PACKAGE_VERSION}.tgz`);
  const compiled = await compiledExecutablePath();
  await Promise.all([
    step(dirs.checkout, ["npm", "run", "compile"])
      .then(() => copyFile(join(dirs.checkout, compiled), join(dirs.alone, "exec-server"))),
    // zod, the one dependency (for the declarations), comes from the caches `npm ci` filled, or
    // from the registry.
    step(dirs.bunApp, [join(BIN, "bun"), "add", tarball]),
    step(dirs.npmApp, ["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", tarball]),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (work !== "") await rm(work, { recursive: true, force: true });
});

test("npm pack ships the bundles, their types, README, LICENSE and the user docs, nothing else", () => {
  const listing = spawnSync("tar", ["-tzf", tarball], { encoding: "utf8" });
  const files = listing.stdout.trim().split("\n").sort();
  const declarations = files.filter((file) =>
    /^package\/dist\/(client|protocol|rpc)\/\w+\.d\.ts$/.test(file)
  );
  expect(declarations).toContain("package/dist/client/mod.d.ts");
  expect(files.filter((file) => !declarations.includes(file))).toEqual([
    "package/LICENSE",
    "package/README.md",
    "package/dist/client.js",
    "package/dist/exec-server.d.ts",
    "package/dist/exec-server.js",
    "package/docs/deploy.md",
    "package/docs/performance.md",
    "package/docs/protocol.md",
    "package/docs/protocol.schema.json",
    "package/docs/security.md",
    "package/package.json",
  ]);
});

test("the bundles import no package: hono and zod are inside them", async () => {
  for (const bundle of ["dist/exec-server.js", "dist/client.js"]) {
    const text = await readFile(join(dirs.checkout, bundle), "utf8");
    const imports = [...text.matchAll(/\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((match) =>
      match[1]
    );
    const packages = imports.filter((name = "") =>
      !/^(node:|bun:|\.)/.test(name) && !builtinModules.includes(name)
    );
    expect([bundle, packages]).toEqual([bundle, []]);
  }
});

/** The first `ts` block after README's "Use it from code" heading. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Use it from code"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error("README.md has no client example");
  return match[1];
}

/** Runs `argv` in `cwd` with exactly `env`; resolves with its exit code and its output. */
function runExample(
  cwd: string,
  argv: string[],
  env: Record<string, string>,
): { code: number | null; out: string } {
  const [program = "", ...args] = argv;
  const result = spawnSync(program, args, { cwd, env, encoding: "utf8" });
  return { code: result.status, out: result.stdout + result.stderr };
}

describe("README client example, from the installed package", () => {
  const server = sharedServer("bun");
  const expected = { code: 0, out: "mktemp exited with 0\nhello from exec-server\n\n" };
  const base = { PATH, HOME: process.env["HOME"] ?? "/root" };

  test(
    "it and docs/deploy.md's client snippet type-check against the shipped declarations, strictly",
    async () => {
      await writeFile(join(dirs.bunApp, "example.ts"), await readmeExample());
      const [deploySnippet] = codeBlocks(await readDoc("docs/deploy.md")).filter((block) =>
        block.info === "ts"
      );
      await writeFile(join(dirs.bunApp, "sandbox_environments.ts"), deploySnippet?.text ?? "");
      const options = {
        strict: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        target: "ESNext",
        module: "ESNext",
        moduleResolution: "bundler",
        lib: ["ESNext", "DOM"],
        types: [],
      };
      await writeFile(
        join(dirs.bunApp, "tsconfig.json"),
        JSON.stringify({ compilerOptions: options, files: ["example.ts", "sandbox_environments.ts"] }),
      );
      await step(dirs.bunApp, [join(BIN, "tsc"), "-p", "."]);
    },
    30_000,
  );

  test("runs as written under Bun, remote and local", async () => {
    await writeFile(join(dirs.bunApp, "example.ts"), await readmeExample());
    const bun = [join(BIN, "bun"), "example.ts"];
    expect(runExample(dirs.bunApp, bun, { ...base, EXEC_SERVER_URL: server().url })).toEqual(expected);
    expect(runExample(dirs.bunApp, bun, base)).toEqual(expected);
  }, 30_000);

  test(
    "errors of the main entry's environments are instances of exec-server/client's error classes",
    async () => {
      // The two entries are separate bundles, each with its own copy of the classes.
      const script = [
        'import { environmentManager } from "exec-server";',
        'import { ClientError, RpcError } from "exec-server/client";',
        "const disabled = await (await environmentManager({ env: { EXEC_SERVER_URL: 'none' } })).environment();",
        "const refused = await disabled.exec.start({ argv: ['true'], cwd: '/' }).catch((error) => error);",
        "await using manager = await environmentManager({ env: {} });",
        "const local = await manager.environment();",
        "const missing = await local.fs.readFile({ path: '/nonexistent/exec-server-package-test' })",
        "  .catch((error) => error);",
        "console.log(refused instanceof ClientError, refused.reason, missing instanceof RpcError, missing.kind);",
        "console.log(new Error('x') instanceof ClientError, missing instanceof ClientError);",
      ].join("\n");
      await writeFile(join(dirs.bunApp, "errors.ts"), script);
      expect(runExample(dirs.bunApp, [join(BIN, "bun"), "errors.ts"], base)).toEqual({
        code: 0,
        out: "true disabled true NotFound\nfalse false\n",
      });
    },
    30_000,
  );

  test("runs as written under Deno, locally, from the npm-installed package", async () => {
    await writeFile(join(dirs.npmApp, "example.ts"), await readmeExample());
    const deno = [join(BIN, "deno"), "run", "-A", "--quiet", "example.ts"];
    expect(runExample(dirs.npmApp, deno, base)).toEqual(expected);
  }, 30_000);

  test(
    "a Local environment of the installed bundle runs a sandboxed process and a sandboxed fs read",
    async () => {
      await using dir = await tempDir();
      await writeFile(join(dir.path, "note.txt"), "inside\n");
      const script = `
import { localEnvironment } from "exec-server";
const sandbox = ${JSON.stringify(managedSandbox({ write: [dir.path] }))};
await using env = await localEnvironment();
await using proc = await env.exec.start({ argv: ["/bin/cat", "note.txt"], cwd: ${
        JSON.stringify(dir.path)
      }, sandbox });
for await (const event of proc.events) {
  if (event.type === "output") console.log(new TextDecoder().decode(event.data).trim());
  if (event.type === "exited") console.log("exit", event.exitCode);
}
const read = await env.sandboxedFs(sandbox).readFile({ path: ${JSON.stringify(join(dir.path, "note.txt"))} });
console.log(atob(read.dataBase64).trim());
`;
      await writeFile(join(dirs.bunApp, "local_sandbox.ts"), script);
      const result = runExample(dirs.bunApp, [join(BIN, "bun"), "local_sandbox.ts"], base);
      expect(result).toEqual({ code: 0, out: "inside\nexit 0\ninside\n" });
    },
    30_000,
  );
});

/** What README's "Install and run" says a program embedding the server writes. */
const EMBEDDING_PROGRAM =
  'import { main } from "exec-server";\nawait main(["--listen", "ws://127.0.0.1:0"]);\n';
/** How long an embedding program may take to print its URL before the case ends it. */
const EMBED_URL_WITHIN_MS = 20_000;

/** Stops `pid` and everything below it, even a tree that keeps forking: stopped first, then killed. */
async function killTree(pid: number): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const pids = [pid, ...await descendants(pid)];
    for (const each of pids) {
      for (const signal of ["SIGSTOP", "SIGKILL"] as const) {
        try {
          process.kill(each, signal);
        } catch {
          // Gone already.
        }
      }
    }
  }
}

/** Its first stdout line, or null when it has printed none within `ms`. */
function firstLine(child: ChildProcess, ms: number): Promise<string | null> {
  return new Promise((resolve) => {
    let stdout = "";
    const timer = setTimeout(() => resolve(null), ms);
    child.stdout?.on("data", (data: Buffer) => {
      stdout += data.toString();
      if (stdout.includes("\n")) {
        clearTimeout(timer);
        resolve(stdout.slice(0, stdout.indexOf("\n")));
      }
    });
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

/**
 * Runs an embedding program in `cwd` and reads its URL (null: none within the limit); disposing
 * stops it with SIGTERM and then, if it is still there, its whole tree.
 */
async function startEmbedding(
  command: readonly string[],
  cwd: string,
): Promise<AsyncDisposable & { readonly url: string | null }> {
  const [program = "", ...args] = command;
  const child = spawn(program, args, {
    cwd,
    env: { PATH, HOME: process.env["HOME"] ?? "/root", ...TEST_RUNTIME_ENV },
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await firstLine(child, EMBED_URL_WITHIN_MS);
  return {
    url,
    async [Symbol.asyncDispose]() {
      if (url !== null) {
        child.kill("SIGTERM");
        await exited;
      }
      if (child.exitCode === null && child.signalCode === null) await killTree(child.pid ?? 0);
    },
  };
}

describe.each(
  [
    ["bun", () => dirs.bunApp, [join(BIN, "bun"), "embed.mjs"]],
    ["deno", () => dirs.npmApp, [join(BIN, "deno"), "run", "-A", "embed.mjs"]],
  ] as const,
)("a program that calls main from the installed package, under %s", (_runtime, cwd, command) => {
  test("serves, and its sandbox launches exec-server rather than the program", async () => {
    await using dir = await tempDir();
    await writeFile(join(cwd(), "embed.mjs"), EMBEDDING_PROGRAM);
    await writeFile(join(dir.path, "note.txt"), "inside\n");
    // The program ignores its arguments: launched as the sandbox's launcher, it would serve again,
    // and its own launcher likewise, without end.
    await using embedding = await startEmbedding(command, cwd());
    expect(embedding.url).toMatch(/^ws:\/\/127\.0\.0\.1:[1-9]\d*$/);
    await using client = await TestClient.connect(embedding.url ?? "");
    await client.initialize();
    const sandbox = managedSandbox({ write: [dir.uri] });
    await client.call("process/start", {
      processId: "boxed",
      argv: ["/bin/cat", "note.txt"],
      cwd: dir.uri,
      env: {},
      tty: false,
      sandbox,
    });
    expect(await client.untilClosed("boxed")).toEqual([
      { method: "process/output", seq: 1, stream: "stdout", text: "inside\n" },
      { method: "process/exited", seq: 2, exitCode: 0, sandboxDenied: false },
      { method: "process/closed", seq: 3 },
    ]);
    const read = await client.call("fs/readFile", { path: join(dir.path, "note.txt"), sandbox });
    expect(read).toEqual({ dataBase64: Buffer.from("inside\n").toString("base64") });
  }, 60_000);
});

test(
  "a program bundled with the server inside that ignores its arguments serves without a sandbox, and says why",
  async () => {
    // Its launcher is the program itself, which would serve again rather than launch, without end.
    await writeFile(join(dirs.bunApp, "embed.mjs"), EMBEDDING_PROGRAM);
    await step(dirs.bunApp, [
      join(BIN, "bun"),
      "build",
      "embed.mjs",
      "--target=bun",
      "--outfile",
      "embedded.js",
    ]);
    await using embedding = await startEmbedding([join(BIN, "bun"), "embedded.js"], dirs.bunApp);
    expect(embedding.url).toMatch(/^ws:\/\/127\.0\.0\.1:[1-9]\d*$/);
    await using client = await TestClient.connect(embedding.url ?? "");
    const { environmentInfo } = InitializeResultSchema.parse(await client.initialize());
    const sandbox = environmentInfo.extensions.sandbox;
    expect([sandbox.available, sandbox.reason]).toEqual([
      false,
      expect.stringContaining("must pass its arguments to main()"),
    ]);
  },
  60_000,
);

/** Each way a user runs it: a name, the runtime it reports, its directory and its command line. */
const WAYS: Array<[string, RuntimeName, () => string, string[]]> = [
  ["bunx exec-server, after bun add", "bun", () => dirs.bunApp, [join(BIN, "bunx"), "exec-server"]],
  [
    "deno run -A --no-config node_modules/exec-server/dist/exec-server.js, after npm install",
    "deno",
    () => dirs.npmApp,
    [join(BIN, "deno"), "run", "-A", "--no-config", "node_modules/exec-server/dist/exec-server.js"],
  ],
  ["the compiled executable alone in a directory", "bun", () => dirs.alone, ["./exec-server"]],
];

describe.each(WAYS)("%s", (_name, runtime, cwd, command) => {
  test("prints the package version for --version", () => {
    const [program = "", ...args] = command;
    const result = spawnSync(program, [...args, "--version"], {
      cwd: cwd(),
      encoding: "utf8",
      env: { PATH },
    });
    expect([result.stdout, result.status]).toEqual([`${PACKAGE_VERSION}\n`, 0]);
  });

  test("runs no runtime config that a sandbox may write in the project it starts from", async () => {
    // What a sandbox whose writable roots hold the project (Codex's workspace-write) may leave there
    // for the next start of a server run from it: a Bun preload, a .env that marks the server an
    // image run (which refuses to serve), and a Deno import map that replaces a module the bundle
    // loads, which Deno applies to the installed bundle once the sandbox has also moved the
    // project's package.json aside. Each would run or act unconfined, as the server's user.
    const ran = join(cwd(), "config-ran.txt");
    const planted: Record<string, string> = {
      "bunfig.toml": 'preload = ["./config_preload.mjs"]\n',
      "config_preload.mjs": `import { appendFileSync } from "node:fs";\n` +
        `appendFileSync(${JSON.stringify(ran)}, "bunfig.toml preload\\n");\n`,
      ".env": "EXEC_SERVER_IMAGE_RUN=1\n",
      "deno.json": JSON.stringify({ imports: { fs: "./config_fs.mjs" } }),
      "config_fs.mjs": `import * as fs from "node:fs";\n` +
        `fs.appendFileSync(${JSON.stringify(ran)}, "deno.json import map\\n");\n` +
        `export * from "node:fs";\nexport default fs;\n`,
    };
    const manifest = join(cwd(), "package.json");
    // The compiled executable's directory has none.
    const moved = await rename(manifest, `${manifest}.moved`).then(() => true, () => false);
    try {
      for (const [name, text] of Object.entries(planted)) await writeFile(join(cwd(), name), text);
      await using server = await startServer({ runtime, command, cwd: cwd(), env: { PATH } });
      await using client = await server.connect();
      await client.initialize();
      expect(await readFile(ran, "utf8").catch(() => "")).toBe("");
    } finally {
      for (const name of [...Object.keys(planted), "config-ran.txt"]) {
        await rm(join(cwd(), name), { force: true });
      }
      if (moved) await rename(`${manifest}.moved`, manifest);
    }
  }, 30_000);

  test("runs a process, a sandboxed process and a sandboxed fs read, and reports its version", async () => {
    await using server = await startServer({ runtime, command, cwd: cwd(), env: { PATH } });
    await using dir = await tempDir();
    await using client = await server.connect();
    const { environmentInfo } = InitializeResultSchema.parse(await client.initialize());
    expect([
      environmentInfo.executorVersion,
      environmentInfo.extensions.version,
      environmentInfo.extensions.runtime,
    ])
      .toEqual([PACKAGE_VERSION, PACKAGE_VERSION, runtime]);
    await writeFile(join(dir.path, "note.txt"), "inside\n");
    await client.call("process/start", {
      processId: "plain",
      argv: ["/bin/sh", "-c", "echo plain"],
      cwd: dir.uri,
      env: {},
      tty: false,
    });
    expect(await client.untilClosed("plain")).toEqual([
      { method: "process/output", seq: 1, stream: "stdout", text: "plain\n" },
      { method: "process/exited", seq: 2, exitCode: 0, sandboxDenied: false },
      { method: "process/closed", seq: 3 },
    ]);
    const sandbox = managedSandbox({ write: [dir.uri] });
    const started = await client.call("process/start", {
      processId: "boxed",
      argv: ["/bin/cat", "note.txt"],
      cwd: dir.uri,
      env: {},
      tty: false,
      sandbox,
    });
    expect(started).toEqual({ processId: "boxed", sandboxType: "linuxSeccomp" });
    expect(await client.untilClosed("boxed")).toEqual([
      { method: "process/output", seq: 1, stream: "stdout", text: "inside\n" },
      { method: "process/exited", seq: 2, exitCode: 0, sandboxDenied: false },
      { method: "process/closed", seq: 3 },
    ]);
    const read = await client.call("fs/readFile", { path: join(dir.path, "note.txt"), sandbox });
    expect(read).toEqual({ dataBase64: Buffer.from("inside\n").toString("base64") });
  }, 30_000);
});

test("the Dockerfile copies what npm run compile writes, and its command line serves from that file", async () => {
  await using dir = await tempDir();
  const instructions = await dockerfile();
  const copies = instructions.filter((instruction) => instruction.name === "COPY").map((copy) =>
    copy.args.split(" ")
  );
  expect(copies.map(([source]) => source)).toEqual([await compiledExecutablePath()]);
  for (const [source = ""] of copies) await access(join(dirs.checkout, source));
  const jsonArgs = (name: string): string[] =>
    z.array(z.string()).parse(JSON.parse(instructions.find((each) => each.name === name)?.args ?? "[]"));
  expect(jsonArgs("ENTRYPOINT")[0]).toBe(copies[0]?.[1]);
  const tokenFile = join(dir.path, "token");
  await writeFile(tokenFile, DEPLOY_TOKEN + "\n");
  const local = localCommandLine([...jsonArgs("ENTRYPOINT"), ...jsonArgs("CMD")], {
    program: [join(dirs.alone, "exec-server")],
    tokenFile,
  });
  await using server = await startCommandLine(local.argv, { cwd: dir.path });
  expect(server.url).toMatch(/^ws:\/\/0\.0\.0\.0:[1-9]\d*$/);
  await expectDeployedServer(server, ["/readyz", "/livez"]);
});
