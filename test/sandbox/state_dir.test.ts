/**
 * Where a server makes its private state directory (`src/sandbox/state_dir.ts`), which state
 * directories of dead servers it removes, and which ones of any server a sandbox keeps read-only.
 */
import { describe, expect, test } from "bun:test";
import { chown, lstat, mkdir, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { removeTree } from "../../src/fs/mod.ts";
import { createStateDir, stateDirFiles, stateDirsIn } from "../../src/sandbox/state_dir.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** The uid of `nobody`: another user's, for a root test process. */
const NOBODY = 65534;
/** A pid no process has (above the kernel's limit). */
const DEAD = 999999999;

const uid = process.getuid?.() ?? 0;
const parentName = `exec-server-uid-${uid}`;

describe("createStateDir", () => {
  test("makes the state directory in this user's directory of them, at its real path", async () => {
    await using dir = await tempDir();
    await mkdir(join(dir.path, "real"));
    await symlink("real", join(dir.path, "link"));
    const made = await createStateDir({ XDG_RUNTIME_DIR: join(dir.path, "link") }, removeTree);
    const parent = join(dir.path, "real", parentName);
    expect(made).toMatch(new RegExp(`^${parent}/exec-server-${process.pid}-[A-Za-z0-9]{6}$`));
    expect(stateDirFiles(made)).toEqual([made, parent]);
    for (const path of [parent, made]) {
      const info = await lstat(path);
      expect([path, info.isDirectory(), info.uid, info.mode & 0o777]).toEqual([path, true, uid, 0o700]);
    }
  });

  test("makes it beside a parent that is another user's or a link", async () => {
    for (const plant of ["foreign", "link"] as const) {
      await using dir = await tempDir();
      const parent = join(dir.path, parentName);
      if (plant === "foreign") {
        await mkdir(parent, { mode: 0o700 });
        await chown(parent, NOBODY, NOBODY);
      } else {
        await mkdir(join(dir.path, "elsewhere"));
        await symlink("elsewhere", parent);
      }
      const made = await createStateDir({ XDG_RUNTIME_DIR: dir.path }, removeTree);
      expect([plant, made]).toEqual([
        plant,
        expect.stringMatching(new RegExp(`^${dir.path}/exec-server-\\d+-`)),
      ]);
      expect(stateDirFiles(made)).toEqual([made]);
      expect(await readdir(join(dir.path, "elsewhere")).catch(() => [])).toEqual([]);
    }
  });

  test("removes dead servers' state directories in the parent and beside it", async () => {
    await using dir = await tempDir();
    const parent = join(dir.path, parentName);
    const flat = join(dir.path, `exec-server-${DEAD}-AbC123`);
    const nested = join(parent, `exec-server-${DEAD}-XyZ789`);
    const live = join(parent, `exec-server-${process.pid}-Live00`);
    for (const path of [flat, nested, live]) await mkdir(path, { recursive: true });
    await writeFile(join(nested, "join-helper"), "");
    const made = await createStateDir({ XDG_RUNTIME_DIR: dir.path }, removeTree);
    expect((await readdir(dir.path)).sort()).toEqual([parentName]);
    expect((await readdir(parent)).sort()).toEqual(
      [made.slice(parent.length + 1), "exec-server-" + `${process.pid}-Live00`].sort(),
    );
  });
  test("removes a dead server's state directory without following its links, and leaves one deeper than a server makes", async () => {
    await using dir = await tempDir();
    const outside = join(dir.path, "outside");
    await mkdir(outside);
    await writeFile(join(outside, "kept"), "");
    const linked = join(dir.path, `exec-server-${DEAD}-Link00`);
    await mkdir(linked);
    await symlink(outside, join(linked, "dir"));
    await symlink(join(outside, "kept"), join(linked, "file"));
    const deep = join(dir.path, `exec-server-${DEAD}-Deep00`);
    await mkdir(join(deep, ...Array.from({ length: 100 }, () => "d")), { recursive: true });
    await createStateDir({ XDG_RUNTIME_DIR: dir.path }, removeTree);
    expect((await readdir(dir.path)).sort()).toEqual([`exec-server-${DEAD}-Deep00`, parentName, "outside"]);
    expect(await readdir(outside)).toEqual(["kept"]);
  });
});

describe("stateDirsIn", () => {
  test("lists every server's state directories and parents, whoever owns them, and nothing else", async () => {
    await using dir = await tempDir();
    const names = [`exec-server-${DEAD}-AbC123`, "exec-server-uid-65534", `exec-server-12-XyZ789`];
    for (const name of names) await mkdir(join(dir.path, name));
    await chown(join(dir.path, "exec-server-uid-65534"), NOBODY, NOBODY);
    await writeFile(join(dir.path, "exec-server-13-File00"), "");
    await symlink("/", join(dir.path, "exec-server-14-Link00"));
    await mkdir(join(dir.path, "exec-server-test-AbC123"));
    await mkdir(join(dir.path, "exec-server-uid-x"));
    expect((await stateDirsIn(dir.path)).toSorted()).toEqual(
      names.map((name) => join(dir.path, name)).sort(),
    );
  });

  test("lists a place again once an entry is made there, a second after its last listing", async () => {
    await using dir = await tempDir();
    const first = join(dir.path, `exec-server-${DEAD}-AbC123`);
    await mkdir(first);
    // A clock a minute ahead, that each step moves on by more than a second: the place's change
    // time looks settled, so its listing is kept. The kernel stamps a change that follows a read of
    // the change time finer than a clock tick (Linux 6.13's multigrain timestamps), so each change
    // below moves it.
    let offset = 60_000;
    const ahead = () => Date.now() + offset;
    expect(await stateDirsIn(dir.path, ahead)).toEqual([first]);
    const second = join(dir.path, "exec-server-uid-65534");
    await mkdir(second);
    offset += 1_500;
    expect((await stateDirsIn(dir.path, ahead)).toSorted()).toEqual([first, second].toSorted());
    await rm(first, { recursive: true });
    await symlink("/", first);
    offset += 1_500;
    expect(await stateDirsIn(dir.path, ahead)).toEqual([second]);
  });

  test("lists a place whose change time keeps moving at most once a second", async () => {
    // A sandbox that may write /tmp can fill it and touch it without pause; every resolution of
    // every policy looks into it (twice where a writable root holds it), and 200,000 names cost
    // each sandboxed launch seconds on a Deno server.
    await using dir = await tempDir();
    const first = join(dir.path, `exec-server-${DEAD}-AbC123`);
    await mkdir(first);
    let offset = 0;
    const clock = () => Date.now() + offset;
    expect(await stateDirsIn(dir.path, clock)).toEqual([first]);
    const second = join(dir.path, "exec-server-uid-65534");
    await mkdir(second);
    offset += 500;
    expect(await stateDirsIn(dir.path, clock)).toEqual([first]);
    offset += 1_000;
    expect((await stateDirsIn(dir.path, clock)).toSorted()).toEqual([first, second].toSorted());
  });
});
