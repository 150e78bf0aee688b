/**
 * What the launcher and the fs worker run from. A compiled program or a bundle serves as both
 * (with a mode argument). A server running from its TypeScript sources bundles each into one
 * file: the worker must see one file, not the checkout, and the launcher must not depend on a
 * transpiler cache. The bundles are kept per version of the sources (a hash of their content),
 * so only the first server of a version pays for building them.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { bunBuildArgs } from "../runtime/mod.ts";
import type { ProgramImage, Runtime } from "../runtime/mod.ts";
import { runImage } from "./image_run.ts";
import { ownInode, ownInodesUnder } from "./own_inode.ts";
import { hostPath } from "./server_files.ts";

/** The images the launch plans use, and the files of the server a sandbox must not change. */
export interface ProgramImages {
  /**
   * Resolves once the images exist (bundles built, if any), with where their launches keep the
   * runtime's code cache: `cacheDir`, or, on the server that built the bundles, the same shared
   * directory once it has warmed it (null: the runtime's cache in the private state directory).
   */
  readonly ready: Promise<
    { readonly launcher: ProgramImage; readonly worker: ProgramImage; readonly cacheDir: string | null }
  >;
  /**
   * The launcher image when it exists already, else the program itself: the start-up probe runs
   * it. A bundle starts faster than the sources (Deno transpiles them into a private, empty cache
   * at every server start), and it waits for no build.
   */
  readonly probe: ProgramImage;
  /** The runtime, the program or its bundles, the state directory: read-only in every sandbox. */
  readonly ownFiles: readonly string[];
  /**
   * The directory of this version's bundles when this user's servers share it (it is among
   * `ownFiles`), for what they may keep for each other; null when nothing is shared.
   */
  readonly sharedDir: string | null;
  /**
   * Where the runtime keeps the code cache of a launch that does not wait for `ready` (the start-up
   * probe; `Runtime.imageEnv`): the `cache` directory beside this version's bundles when they were
   * built before this server started (the server that builds them warms it, `warmCodeCache`);
   * null when there is none yet, and the runtime keeps its cache in the private state directory.
   */
  readonly cacheDir: string | null;
}

/** The runtime's code cache, inside a version's directory: made with it, so always there. */
const CACHE_DIR = "cache";
/** How long the run that fills the code cache may take. */
const WARM_LIMIT_MS = 10_000;
/** How many versions of built images are kept beside the current one, and for how long at least. */
const KEPT_VERSIONS = 8;
const KEPT_VERSION_MS = 24 * 3600 * 1000;
const STAGING_ABANDONED_MS = 3600 * 1000;

/** The sources' root, next to this module: what a server running from its sources is built from. */
const SOURCE_ROOT = fileURLToPath(new URL("../..", import.meta.url).href);
const LAUNCHER_ENTRY = "src/launcher/entry.ts";
/** The packages of `node_modules` that the sources import (a test keeps the list whole). */
export const SOURCE_PACKAGES = ["zod", "hono"];
/** Where Bun's bundler puts a bundle's bytecode, beside it: `bun` loads it when it runs the bundle. */
const BYTECODE_SUFFIX = ".jsc";
const WORKER_ENTRY = "worker/entry.ts";

/** Whether the program runs from TypeScript sources rather than a bundle or a compiled binary. */
function runsFromSources(image: ProgramImage): boolean {
  return image.script !== null && /\.[cm]?tsx?$/.test(image.script);
}

/**
 * Picks the launcher and worker images; when the server runs from its sources, finds or builds
 * their bundles (in `node_modules/.cache/exec-server`, else in `stateDir`).
 */
export async function prepareProgramImages(
  runtime: Runtime,
  stateDir: string,
  self: ProgramImage = runtime.selfImage(),
): Promise<ProgramImages> {
  if (!runsFromSources(self)) {
    // The bundle the launches run, on an inode no name outside the server's cover shares. The
    // executable needs no such care: the kernel refuses every write to it while the server runs it.
    const split = self.script === null ? null : await ownInode(self.script, stateDir);
    const image = split?.kind === "private" ? { ...self, script: split.copy } : self;
    const ready = Promise.resolve({ launcher: image, worker: image, cacheDir: null });
    return {
      ready,
      probe: image,
      ownFiles: [
        self.executable,
        ...(self.script === null ? [] : [self.script]),
        stateDir,
        ...runtime.codeCaches(),
      ],
      sharedDir: null,
      cacheDir: null,
    };
  }
  // The packages the sources load, which the next start loads again and the bundles are built
  // from, on inodes of their own (`ownInodesUnder`); what cannot be split stays ("Known limits").
  await Promise.all(
    SOURCE_PACKAGES.map((name) => ownInodesUnder(join(SOURCE_ROOT, "node_modules", name)).catch(() => [])),
  );
  const version = sourceVersion(`${runtime.name} ${runtime.version}`);
  // At its real path: the launches run the bundles by this path, and a link on the way that a
  // sandbox could change would lead them elsewhere.
  const cache = join(await hostPath(SOURCE_ROOT), "node_modules", ".cache", "exec-server");
  // Shared only when this user owns it: a cache another user can write is code for our launcher.
  const shared = await mkdir(cache, { recursive: true, mode: 0o700 }).then(
    () => lstat(cache).then((info) => info.isDirectory() && info.uid === process.getuid?.(), () => false),
    () => false,
  );
  const dir = join(shared ? cache : stateDir, `images-${version}`);
  const image = (name: string): ProgramImage => {
    const script = join(dir, name);
    return runtime.name === "bun"
      ? { executable: self.executable, script, companionFiles: [`${script}${BYTECODE_SUFFIX}`] }
      : { executable: self.executable, script };
  };
  const built = await isBuilt(dir);
  // Only a shared directory's cache is ever used: this server's launches read it once it is warm
  // (`ready` waits for that), later servers' from their start.
  const cacheDir = shared ? join(dir, CACHE_DIR) : null;
  const build = async () => {
    if (await buildOnce(runtime, dir) && shared) await warmCodeCache(runtime, self, stateDir, dir);
  };
  // A cache whose warm run lost its write (below) is warmed again by the next server that finds
  // it so, before its own launches read it.
  const heal = async () => {
    if (shared && !await runtime.codeCacheHolds(join(dir, CACHE_DIR), join(dir, "worker.js"))) {
      await warmCodeCache(runtime, self, stateDir, dir);
    }
  };
  const ready = (built ? heal() : build()).then(() => ({
    launcher: image("launcher.js"),
    worker: image("worker.js"),
    cacheDir,
  }));
  // Nobody waits for a failure before the first sandboxed request, which reports it then.
  ready.catch(() => {});
  if (shared) void pruneVersions(cache, dir);
  return {
    ready,
    probe: built ? image("launcher.js") : self,
    // Every version's directory: a server of another version trusts its own as this one does.
    // And what the runtime compiled of the sources and of every module, which the next start runs.
    ownFiles: [
      self.executable,
      shared ? cache : dir,
      stateDir,
      ...runtime.sourceCaches(SOURCE_ROOT),
      ...runtime.codeCaches(),
    ],
    sharedDir: shared && built ? dir : null,
    cacheDir: built ? join(dir, CACHE_DIR) : null,
  };
}

/**
 * A hash of every source file the bundles are built from, and of the runtime that builds them.
 * Read synchronously: this runs once, before the server listens, and 160 small files read through
 * the runtime's thread pool took 25–35 ms of a Deno start against 8–10 ms this way.
 */
function sourceVersion(runtimeId: string): string {
  const hash = createHash("sha256").update(runtimeId);
  const sources = ["src", "worker"].flatMap((top) => listFiles(join(SOURCE_ROOT, top)).sort());
  for (const file of sources) hash.update(`\0${relative(SOURCE_ROOT, file)}\0`).update(readFileSync(file));
  for (const file of ["package.json", "deno.json"]) {
    hash.update(`\0${file}\0`).update(readIfPresent(join(SOURCE_ROOT, file)));
  }
  return hash.digest("hex").slice(0, 24);
}

/** A file's bytes, or none when it cannot be read (a checkout without `deno.json`). */
function readIfPresent(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch {
    return new Uint8Array();
  }
}

function listFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/**
 * Bundles `entry` into `outfile`. Bun's bundler, where the sources have it beside them, serves
 * both runtimes (its output runs under Deno); `deno bundle` needs esbuild from the npm registry
 * on first use, which hosts without internet cannot fetch.
 */
async function bundle(runtime: Runtime, entry: string, outfile: string): Promise<void> {
  const bun = join(SOURCE_ROOT, "node_modules", ".bin", "bun");
  const hasBun = await stat(bun).then((info) => info.isFile(), () => false);
  if (!hasBun) return await runtime.bundle({ entry, outfile, cwd: SOURCE_ROOT });
  const child = await runtime.spawn({
    program: bun,
    args: bunBuildArgs(entry, outfile, runtime.name),
    argv0: bun,
    cwd: SOURCE_ROOT,
    env: { PATH: "/usr/bin:/bin" },
    stdin: "null",
  });
  const [stderr, status] = await Promise.all([
    new Response(child.stderr).text(),
    child.exited,
    new Response(child.stdout).text(),
  ]);
  if (status.code !== 0) throw new Error(`bun build ${entry} failed: ${stderr.trim().slice(-400)}`);
}

/**
 * Builds the two bundles into `dir` unless they are there; concurrent servers race harmlessly.
 * Resolves with whether this call made `dir`.
 */
async function buildOnce(runtime: Runtime, dir: string): Promise<boolean> {
  if (await isBuilt(dir)) return false;
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  const staging = await mkdtemp(`${dir}.tmp-`);
  try {
    await Promise.all([
      bundle(runtime, join(SOURCE_ROOT, LAUNCHER_ENTRY), join(staging, "launcher.js")),
      bundle(runtime, join(SOURCE_ROOT, WORKER_ENTRY), join(staging, "worker.js")),
    ]);
    await mkdir(join(staging, CACHE_DIR), { mode: 0o700 });
    // Whole or not at all: a directory appears with both files (and the cache directory) or not.
    return await rename(staging, dir).then(() => true, async (error: unknown) => {
      if (!await isBuilt(dir)) throw error;
      return false;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Runs the worker bundle once, unconfined, serving one request (it exits at the end of its stdin),
 * so that the runtime's code cache in `dir` holds it: a sandboxed worker can read that cache but
 * never write it, so without this every worker would start cold. The request matters: Deno
 * compiles much of Node's fs layer only when a request first uses it, and a cache warmed on an
 * empty stdin left a read-only worker as slow as a cold one (the worker to its first answer, Deno
 * 2.9: 77 ms cold, 77 after an empty run, 39 after one request). The launcher's part is written by
 * the first launch, before it confines itself. A failure only leaves the cache cold.
 */
async function warmCodeCache(
  runtime: Runtime,
  self: ProgramImage,
  stateDir: string,
  dir: string,
): Promise<void> {
  const worker = { executable: self.executable, script: join(dir, "worker.js") };
  const command = runtime.imageCommand(worker, ["fs-worker"]);
  // One request of the worker's stdio protocol (src/fs/worker_protocol.ts), written out: src/fs
  // builds on this folder, so this one cannot import it.
  const request = `${
    JSON.stringify({ id: 1, method: "fs/getMetadata", params: { scope: "warm", request: { path: "/" } } })
  }\n`;
  // Deno keeps its code cache in SQLite and drops a write that finds the database busy: another
  // Deno process with the same cache open (measured: the worker's entry lost in one of three runs
  // beside a launcher waiting on its stdin) left this version cold for good, every first
  // sandboxed call about 8 ms slower. So the run is repeated, a few times at most, until the
  // cache holds the worker.
  for (let attempt = 0; attempt < WARM_ATTEMPTS; attempt++) {
    // It exits once its stdin ends; one that does not must not hold back every launch.
    const ran = await runImage(
      runtime,
      command,
      runtime.imageEnv(stateDir, join(dir, CACHE_DIR)),
      WARM_LIMIT_MS,
      new TextEncoder().encode(request),
    ).catch(() => null);
    // Cold is slower, not wrong: a run that failed is not tried again.
    if (ran === null || ran.code !== 0) return;
    if (await runtime.codeCacheHolds(join(dir, CACHE_DIR), worker.script)) return;
  }
}

/** How many times a warm run that left the worker out of the code cache is made. */
const WARM_ATTEMPTS = 3;

/** Whether `dir` holds both bundles: it appears by a rename, whole. */
async function isBuilt(dir: string): Promise<boolean> {
  return await stat(join(dir, "worker.js")).then(() => true, () => false);
}

/**
 * Removes the staging directories of builds that never finished (their server was killed while
 * it built): nothing renames them any more. A build takes seconds; one older than an hour is gone.
 */
async function removeAbandonedStaging(cache: string, names: readonly string[]): Promise<void> {
  const abandoned = Date.now() - STAGING_ABANDONED_MS;
  await Promise.all(
    names.filter((name) => /^images-[0-9a-f]+\.tmp-[A-Za-z0-9]{6}$/.test(name)).map(async (name) => {
      const path = join(cache, name);
      const time = (await stat(path).catch(() => null))?.mtimeMs;
      if (time !== undefined && time < abandoned) {
        await rm(path, { recursive: true, force: true }).catch(() => {});
      }
    }),
  );
}

/**
 * Removes image directories past the newest `KEPT_VERSIONS` that are old (never `current`), and
 * abandoned staging directories.
 */
export async function pruneVersions(cache: string, current: string): Promise<void> {
  const all = await readdir(cache).catch(() => []);
  await removeAbandonedStaging(cache, all);
  const names = all.filter((name) => /^images-[0-9a-f]+$/.test(name));
  const dated = await Promise.all(names.map(async (name) => {
    const path = join(cache, name);
    return { path, time: (await stat(path).catch(() => null))?.mtimeMs ?? 0 };
  }));
  dated.sort((a, b) => b.time - a.time);
  // A server of an older version may still start workers from its directory for a while.
  const old = Date.now() - KEPT_VERSION_MS;
  for (const { path, time } of dated.slice(KEPT_VERSIONS)) {
    if (path !== current && time < old) await rm(path, { recursive: true, force: true }).catch(() => {});
  }
}
