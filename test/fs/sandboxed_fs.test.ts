/**
 * Escape regression suite for sandboxed fs requests: every case goes through `FsService` to a
 * worker started by the real launcher (`sandbox-exec` → `fs-worker`), under Bun and under Deno.
 * Each case owns an `inside` directory (writable) and an `outside` one (holding `secret`) beside a
 * shared `readonly` one, and asserts that `outside` is unchanged afterwards and the error code of
 * §8.7.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { resolve } from "node:path";
import { FsService } from "../../src/fs/mod.ts";
import type { FsConnection } from "../../src/fs/mod.ts";
import { detectRuntime } from "../../src/runtime/mod.ts";
import { detectHostFeatures, nativeBackendProblem, workerLaunch } from "../../src/sandbox/mod.ts";
import { bundleFixture, fixtureLaunchContext } from "../helpers/launch_context.ts";
import { b64, errorOf, mkfifo, OS, tempDir, unb64 } from "./fs_test_helpers.ts";
import type { ErrorFacts, TempDir } from "./fs_test_helpers.ts";
import { managedSandbox } from "../helpers/sandbox_policy.ts";

const REPO = resolve(import.meta.dir, "../..");
const SELF_FIXTURE = `${REPO}/test/fixtures/fs_sandbox_self_fixture.ts`;
const WORKER_FIXTURE = `${REPO}/test/fixtures/fs_worker_fixture.ts`;
const SECRET = "top secret\n";

const runtime = await detectRuntime();
const features = await detectHostFeatures(runtime, {
  command: [process.execPath, SELF_FIXTURE, "sandbox-exec", "--probe"],
});
const problem = nativeBackendProblem(features);
const signal = new AbortController().signal;

/**
 * One runtime's lab: a temp root with `inside` (writable), `readonly` (readable) and `outside`
 * (neither), and one fs service whose session shares one worker for the lab's policy. Cases get
 * their own subdirectories and connections, so they run concurrently against that one worker:
 * what is tested is the worker's confinement, which one worker per case would only repeat.
 */
interface Lab {
  readonly dir: TempDir;
  readonly service: FsService;
  readonly sandbox: Record<string, unknown>;
}

/** One case's world: its dirs, a connection with the lab's sandbox, and the outside's snapshot check. */
interface World extends AsyncDisposable {
  readonly inside: string;
  readonly readonly: string;
  readonly outside: string;
  readonly secret: string;
  readonly connection: FsConnection;
  call(method: string, params: Record<string, unknown>): Promise<unknown>;
  /** The outside tree exactly as it was created. */
  outsideUnchanged(): Promise<void>;
}

async function openLab(name: "bun" | "deno"): Promise<Lab> {
  const dir = await tempDir();
  // The worker runs from one file, as the server's does: a bundle of the worker fixture.
  await bundleFixture(WORKER_FIXTURE, dir.join("worker.js"));
  const context = fixtureLaunchContext(name, { launcher: SELF_FIXTURE, worker: dir.join("worker.js") });
  for (const sub of ["inside", "readonly", "outside"]) await fs.mkdir(dir.join(sub));
  await fs.writeFile(dir.join("readonly/r"), "read me");
  const service = new FsService(runtime, {
    maxReadFileBytes: 1 << 20,
    serverCwd: dir.join("inside"),
    serverEnv: runtime.env(),
    hostFeatures: features,
    workerLaunch: (policy) => workerLaunch(context, policy),
  });
  const sandbox = managedSandbox({ write: [dir.join("inside")], read: [dir.join("readonly")] });
  return { dir, service, sandbox };
}

async function closeLab(lab: Lab): Promise<void> {
  await lab.service.closeSession("session");
  await lab.service.close();
  await lab.dir[Symbol.asyncDispose]();
}

let cases = 0;

async function world(lab: Lab): Promise<World> {
  const label = `case${++cases}`;
  const inside = lab.dir.join(`inside/${label}`);
  const outside = lab.dir.join(`outside/${label}`);
  const secret = `${outside}/secret`;
  await fs.mkdir(inside);
  await fs.mkdir(outside);
  await fs.writeFile(secret, SECRET);
  const before = await fs.stat(secret);
  const connection = lab.service.openConnection("session");
  return {
    inside,
    readonly: lab.dir.join("readonly"),
    outside,
    secret,
    connection,
    call: (method, params) => connection.call(method, { ...params, sandbox: lab.sandbox }, signal),
    async outsideUnchanged() {
      expect(await fs.readdir(outside)).toEqual(["secret"]);
      expect(await fs.readFile(secret, "utf8")).toBe(SECRET);
      const after = await fs.stat(secret);
      expect([after.mode, after.uid, after.mtimeMs, after.ctimeMs]).toEqual([
        before.mode,
        before.uid,
        before.mtimeMs,
        before.ctimeMs,
      ]);
    },
    async [Symbol.asyncDispose]() {
      await connection.close();
    },
  };
}

/** §8.7: the path is not visible (-32004), or Landlock refused it (-32600 Permission denied). */
function expectDenied(error: ErrorFacts): void {
  const denials: ErrorFacts[] = [OS.ENOENT, OS.EACCES];
  expect(denials).toContainEqual(error);
}

for (const name of ["bun", "deno"] as const) {
  describe(`sandboxed fs on ${name}`, () => {
    let shared: Lab | null = null;
    beforeAll(async () => {
      shared = await openLab(name);
    });
    afterAll(async () => {
      if (shared !== null) await closeLab(shared);
    });
    const lab = (): Lab => {
      if (shared === null) throw new Error("the lab has not been opened");
      return shared;
    };

    test.concurrent("serves reads and writes inside the roots", async () => {
      await using w = await world(lab());
      expect(await w.call("fs/writeFile", { path: `${w.inside}/a`, dataBase64: b64("hi") })).toEqual({});
      expect(await w.call("fs/readFile", { path: `${w.inside}/a` })).toEqual({ dataBase64: b64("hi") });
      expect(
        unb64(
          (await w.call("fs/readFile", { path: `${w.readonly}/r` }) as { dataBase64: string }).dataBase64,
        ),
      )
        .toBe("read me");
      expect(await w.call("fs/createDirectory", { path: `${w.inside}/d/e` })).toEqual({});
      expect(await w.call("fs/open", { handleId: "h", path: `${w.inside}/a` })).toEqual({ handleId: "h" });
      expect(await w.call("fs/readBlock", { handleId: "h", offset: 0, len: 10 })).toEqual({
        chunk: b64("hi"),
        eof: true,
      });
      await w.outsideUnchanged();
    });

    test.concurrent("writes the null device as the kernel lets a sandboxed process", async () => {
      await using w = await world(lab());
      // A Deno worker's fence refused them (Read-only file system), where a Bun worker, a sandboxed
      // process and the reference unsandboxed reach the device, which takes the bytes.
      for (const device of ["/dev/null", "/dev/zero"]) {
        expect(await w.call("fs/writeFile", { path: device, dataBase64: b64("x") })).toEqual({});
      }
      await w.outsideUnchanged();
    });

    test.concurrent("hides a path outside every root", async () => {
      await using w = await world(lab());
      expect(await errorOf(w.call("fs/readFile", { path: w.secret }))).toEqual(OS.ENOENT);
      expect(await errorOf(w.call("fs/getMetadata", { path: w.secret }))).toEqual(OS.ENOENT);
      expect(await errorOf(w.call("fs/readDirectory", { path: w.outside }))).toEqual(OS.ENOENT);
      expect(await errorOf(w.call("fs/writeFile", { path: w.secret, dataBase64: b64("x") }))).toEqual(
        OS.ENOENT,
      );
      expect(await errorOf(w.call("fs/writeFile", { path: `${w.outside}/new`, dataBase64: b64("x") })))
        .toEqual(
          OS.ENOENT,
        );
      expect(await errorOf(w.call("fs/open", { handleId: "h", path: w.secret, mode: "replace" }))).toEqual(
        OS.ENOENT,
      );
      await w.outsideUnchanged();
    });

    test.concurrent("hides the roots' parent, which the sandbox holds only to reach them, to reads and writes", async () => {
      await using w = await world(lab());
      // A Bun worker answered the sandbox's own stand-in directory (its metadata, a listing of the
      // roots' names) where a Deno worker's fence answered not found.
      const parent = lab().dir.path;
      for (const method of ["fs/getMetadata", "fs/readDirectory", "fs/canonicalize"]) {
        expect(await errorOf(w.call(method, { path: parent }))).toEqual(OS.ENOENT);
      }
      expect(await errorOf(w.call("fs/open", { handleId: "h", path: parent }))).toEqual(OS.ENOENT);
      // A write into it: its parent is not visible (a Bun worker answered Read-only file system).
      const name = `new-${Math.random().toString(36).slice(2)}`;
      expect(await errorOf(w.call("fs/writeFile", { path: `${parent}/${name}`, dataBase64: b64("x") })))
        .toEqual(OS.ENOENT);
      expect(await errorOf(w.call("fs/createDirectory", { path: `${parent}/${name}/d` }))).toEqual(OS.ENOENT);
      expect(await errorOf(w.call("fs/open", { handleId: "h", path: `${parent}/${name}`, mode: "replace" })))
        .toEqual(OS.ENOENT);
      expect(await fs.readdir(parent)).not.toContain(name);
      // The roots themselves and what they hold are seen as before.
      expect(await w.call("fs/getMetadata", { path: w.readonly })).toMatchObject({ isDirectory: true });
      await w.outsideUnchanged();
    });

    test.concurrent("refuses writes in a read-only root with Read-only file system", async () => {
      await using w = await world(lab());
      expect(await errorOf(w.call("fs/writeFile", { path: `${w.readonly}/r`, dataBase64: b64("x") })))
        .toEqual(
          OS.EROFS,
        );
      expect(await errorOf(w.call("fs/createDirectory", { path: `${w.readonly}/d` }))).toEqual(OS.EROFS);
      expect(await errorOf(w.call("fs/remove", { path: `${w.readonly}/r` }))).toEqual(OS.EROFS);
      expect(await errorOf(w.call("fs/open", { handleId: "h", path: `${w.readonly}/r`, mode: "replace" })))
        .toEqual(
          OS.EROFS,
        );
      expect(await fs.readFile(`${w.readonly}/r`, "utf8")).toBe("read me");
      await w.outsideUnchanged();
    });

    test.concurrent("getMetadata through a symlink leading out is not found", async () => {
      await using w = await world(lab());
      await fs.symlink(w.secret, `${w.inside}/mlink`);
      await fs.symlink(w.outside, `${w.inside}/mdlink`);
      await fs.symlink(`${w.readonly}/r`, `${w.inside}/rlink`);
      expect(await errorOf(w.call("fs/getMetadata", { path: `${w.inside}/mlink` }))).toEqual(OS.ENOENT);
      expect(await errorOf(w.call("fs/getMetadata", { path: `${w.inside}/mdlink` }))).toEqual(OS.ENOENT);
      expect(await w.call("fs/getMetadata", { path: `${w.inside}/rlink` })).toMatchObject({
        isFile: true,
        isSymlink: true,
        size: 7,
      });
      await w.outsideUnchanged();
    });

    test.concurrent("a denied path the host replaces or creates later stays hidden", async () => {
      await using w = await world(lab());
      const env = `${w.inside}/.env`;
      const later = `${w.inside}/later.key`;
      await fs.writeFile(env, "TOKEN=one");
      const sandbox = managedSandbox({ write: [w.inside], deny: [env], none: [later] });
      const read = async (path: string): Promise<string> => {
        try {
          const result = await w.connection.call("fs/readFile", { path, sandbox }, signal);
          return unb64((result as { dataBase64: string }).dataBase64);
        } catch (error) {
          return JSON.stringify(await errorOf(Promise.reject(error)));
        }
      };
      expect(await read(env)).not.toContain("TOKEN");
      expect(await read(later)).not.toContain("TOKEN");
      // An editor's save: a new file renamed over the denied one, while the worker lives.
      await fs.writeFile(`${w.inside}/.env.tmp`, "TOKEN=two");
      await fs.rename(`${w.inside}/.env.tmp`, env);
      await fs.writeFile(later, "TOKEN=three");
      expect(await read(env)).not.toContain("TOKEN");
      expect(await read(later)).not.toContain("TOKEN");
      expect(await fs.readFile(env, "utf8")).toBe("TOKEN=two");
      expect(await fs.readFile(later, "utf8")).toBe("TOKEN=three");
      await w.outsideUnchanged();
    });

    test.concurrent("reads and writes through a file symlink leading out are denied", async () => {
      await using w = await world(lab());
      await fs.symlink(w.secret, `${w.inside}/link`);
      expectDenied(await errorOf(w.call("fs/readFile", { path: `${w.inside}/link` })));
      expectDenied(await errorOf(w.call("fs/writeFile", { path: `${w.inside}/link`, dataBase64: b64("x") })));
      expectDenied(await errorOf(w.call("fs/open", { handleId: "r", path: `${w.inside}/link` })));
      expectDenied(
        await errorOf(w.call("fs/open", { handleId: "w", path: `${w.inside}/link`, mode: "replace" })),
      );
      await w.outsideUnchanged();
    });

    test.concurrent("reads, writes and mkdir through a directory symlink leading out are denied", async () => {
      await using w = await world(lab());
      await fs.symlink(w.outside, `${w.inside}/dirlink`);
      expectDenied(await errorOf(w.call("fs/readFile", { path: `${w.inside}/dirlink/secret` })));
      expectDenied(
        await errorOf(w.call("fs/writeFile", { path: `${w.inside}/dirlink/secret`, dataBase64: b64("x") })),
      );
      expectDenied(
        await errorOf(w.call("fs/writeFile", { path: `${w.inside}/dirlink/new`, dataBase64: b64("x") })),
      );
      // `mkdir -p` meets the link, which exists but leads nowhere visible: File exists, as for a
      // dangling link outside a sandbox.
      expect(await errorOf(w.call("fs/createDirectory", { path: `${w.inside}/dirlink/newdir` }))).toEqual(
        OS.EEXIST,
      );
      expectDenied(
        await errorOf(w.call("fs/createDirectory", { path: `${w.inside}/dirlink/newdir`, recursive: false })),
      );
      expectDenied(await errorOf(w.call("fs/readDirectory", { path: `${w.inside}/dirlink` })));
      await w.outsideUnchanged();
    });

    test.concurrent("`..` after a symlink stays lexical and never reaches the outside", async () => {
      await using w = await world(lab());
      await fs.mkdir(`${w.outside}/sub`);
      await fs.symlink(`${w.outside}/sub`, `${w.inside}/sublink`);
      // The kernel would resolve sublink/.. to `outside`; the server normalizes it to `inside` first.
      expect(await errorOf(w.call("fs/readFile", { path: `${w.inside}/sublink/../secret` }))).toEqual(
        OS.ENOENT,
      );
      expect(await w.call("fs/writeFile", { path: `${w.inside}/sublink/../secret`, dataBase64: b64("x") }))
        .toEqual(
          {},
        );
      expect(await fs.readFile(`${w.inside}/secret`, "utf8")).toBe("x");
      await fs.rmdir(`${w.outside}/sub`);
      await w.outsideUnchanged();
    });

    test.concurrent("creating through a dangling symlink that leads out is denied", async () => {
      await using w = await world(lab());
      await fs.symlink(`${w.outside}/created`, `${w.inside}/dangling`);
      expectDenied(
        await errorOf(w.call("fs/writeFile", { path: `${w.inside}/dangling`, dataBase64: b64("x") })),
      );
      expectDenied(
        await errorOf(w.call("fs/open", { handleId: "h", path: `${w.inside}/dangling`, mode: "replace" })),
      );
      expect(await errorOf(w.call("fs/createDirectory", { path: `${w.inside}/dangling` }))).toEqual(
        OS.EEXIST,
      );
      await w.outsideUnchanged();
    });

    test.concurrent("copy with the source or the destination outside is denied", async () => {
      await using w = await world(lab());
      await fs.writeFile(`${w.inside}/a`, "inside");
      await fs.symlink(w.outside, `${w.inside}/dirlink`);
      expectDenied(
        await errorOf(
          w.call("fs/copy", { sourcePath: w.secret, destinationPath: `${w.inside}/x`, recursive: true }),
        ),
      );
      expectDenied(
        await errorOf(
          w.call("fs/copy", {
            sourcePath: `${w.inside}/a`,
            destinationPath: `${w.outside}/x`,
            recursive: false,
          }),
        ),
      );
      expectDenied(
        await errorOf(
          w.call("fs/copy", {
            sourcePath: `${w.inside}/a`,
            destinationPath: `${w.inside}/dirlink/x`,
            recursive: false,
          }),
        ),
      );
      expectDenied(
        await errorOf(
          w.call("fs/copy", { sourcePath: w.outside, destinationPath: `${w.inside}/o`, recursive: true }),
        ),
      );
      // The link itself is copied as a link; reading through the copy is denied like the original.
      // Deno's fence refuses every symlink creation under path-scoped grants: Permission denied.
      const copyLink = w.call("fs/copy", {
        sourcePath: `${w.inside}/dirlink`,
        destinationPath: `${w.inside}/l2`,
        recursive: true,
      });
      if (name === "bun") {
        expect(await copyLink).toEqual({});
        expectDenied(await errorOf(w.call("fs/readFile", { path: `${w.inside}/l2/secret` })));
      } else {
        expect(await errorOf(copyLink)).toEqual(OS.EACCES);
        await fs.symlink(w.outside, `${w.inside}/l2`);
      }
      expect((await fs.readdir(w.inside)).sort()).toEqual(["a", "dirlink", "l2"]);
      await w.outsideUnchanged();
    });

    test.concurrent("remove through a symlinked dir leaves the outside intact; the link alone goes", async () => {
      await using w = await world(lab());
      await fs.symlink(w.outside, `${w.inside}/dirlink`);
      await fs.mkdir(`${w.inside}/tree`);
      await fs.symlink(w.outside, `${w.inside}/tree/inner`);
      expect(await errorOf(w.call("fs/remove", { path: `${w.inside}/dirlink/secret`, force: false })))
        .toEqual(
          OS.ENOENT,
        );
      expect(await w.call("fs/remove", { path: `${w.inside}/dirlink/secret` })).toEqual({});
      await w.outsideUnchanged();
      expect(await w.call("fs/remove", { path: `${w.inside}/tree` })).toEqual({});
      expect(await w.call("fs/remove", { path: `${w.inside}/dirlink`, recursive: true, force: false }))
        .toEqual({});
      expect(await fs.readdir(w.inside)).toEqual([]);
      await w.outsideUnchanged();
    });

    test.concurrent("/proc/self/root does not lead out", async () => {
      await using w = await world(lab());
      const through = `/proc/self/root${w.secret}`;
      expectDenied(await errorOf(w.call("fs/readFile", { path: through })));
      expectDenied(await errorOf(w.call("fs/writeFile", { path: through, dataBase64: b64("x") })));
      expectDenied(await errorOf(w.call("fs/readFile", { path: "/proc/1/environ" })));
      await w.outsideUnchanged();
    });

    test.concurrent("a FIFO as copy source is refused", async () => {
      await using w = await world(lab());
      mkfifo(`${w.inside}/fifo`);
      expect(
        await errorOf(
          w.call("fs/copy", {
            sourcePath: `${w.inside}/fifo`,
            destinationPath: `${w.inside}/x`,
            recursive: true,
          }),
        ),
      ).toEqual({
        code: -32600,
        kind: "InvalidInput",
        message: "fs/copy only supports regular files, directories, and symlinks",
      });
    });

    test.concurrent("a symlink swapped in while requests are in flight never leads out", async () => {
      await using w = await world(lab());
      const target = `${w.inside}/race`;
      await fs.writeFile(target, "inside");
      const requests: Promise<unknown>[] = [];
      for (let round = 0; round < 100; round++) {
        requests.push(
          w.call("fs/writeFile", { path: target, dataBase64: b64(`round ${round}`) }).catch((e: unknown) =>
            e
          ),
          w.call("fs/readFile", { path: target }).catch((e: unknown) => e),
        );
        // Swap atomically between a regular file and a symlink to the secret, while requests run.
        const staged = `${w.inside}/staged`;
        if (round % 2 === 0) await fs.symlink(w.secret, staged);
        else await fs.writeFile(staged, "inside");
        await fs.rename(staged, target);
      }
      const outcomes = await Promise.all(requests);
      for (const outcome of outcomes) {
        if (outcome instanceof Error) {
          expect([-32004, -32600]).toContain((await errorOf(Promise.reject(outcome))).code);
        } else if (outcome !== null && typeof outcome === "object" && "dataBase64" in outcome) {
          expect(unb64(String(outcome.dataBase64))).not.toContain("secret");
        }
      }
      await w.outsideUnchanged();
    });
  });
}

test("the sandboxed fs suite runs on this host", () => {
  // Landlock and no_new_privs are present on the CI hosts; a skip would hide the whole suite.
  expect(problem).toBeNull();
});
