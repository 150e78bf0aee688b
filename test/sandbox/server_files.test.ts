/**
 * The server's own and secret files in a policy, compared with its roots by where those lead on
 * the host (`src/sandbox/server_files.ts`).
 */
import { describe, expect, test } from "bun:test";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RpcError } from "../../src/protocol/errors.ts";
import type { Policy } from "../../src/sandbox/mod.ts";
import { protectServerFiles } from "../../src/sandbox/server_files.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const NONE: Policy = { readable: [], writable: [], denied: [], readOnly: [], network: false };
const ruleText = (path: string, access: "read" | "write") => `${access} ${path}`;

/** A temp dir with `real/state/join-helper`, `real/token` and `link` -> `real`. */
async function world(): Promise<AsyncDisposable & { root: string; real: string; link: string }> {
  const dir = await tempDir();
  const real = join(dir.path, "real");
  await mkdir(join(real, "state"), { recursive: true });
  await writeFile(join(real, "state", "join-helper"), "");
  await writeFile(join(real, "token"), "secret\n");
  await symlink("real", join(dir.path, "link"));
  return {
    root: dir.path,
    real,
    link: join(dir.path, "link"),
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return `${error.code} ${error.message}`;
    throw error;
  }
  throw new Error("the policy was not refused");
}

describe("protectServerFiles", () => {
  test("keeps an own file read-only under each spelling of the writable roots that hold it", async () => {
    await using w = await world();
    const state = join(w.real, "state");
    const policy = await protectServerFiles(
      { ...NONE, writable: [w.root, w.link] },
      { ownFiles: [state] },
      ruleText,
    );
    expect(policy.readOnly.toSorted()).toEqual([join(w.link, "state"), state]);
  });

  test("denies the secret file under each spelling of the roots that show it", async () => {
    await using w = await world();
    const token = join(w.real, "token");
    const policy = await protectServerFiles(
      { ...NONE, readable: [w.link], writable: [w.root] },
      { secretFiles: [token] },
      ruleText,
    );
    expect(policy.denied.toSorted()).toEqual([join(w.link, "token"), token]);
  });

  test("refuses a writable root inside the server's own files, whatever its spelling", async () => {
    await using w = await world();
    const files = { ownFiles: [join(w.real, "state")] };
    expect(await refusal(protectServerFiles({ ...NONE, writable: [join(w.link, "state")] }, files, ruleText)))
      .toBe(
        `-32602 sandbox rule write ${w.link}/state cannot be enforced: it holds the server's own program`,
      );
    expect(
      await refusal(
        protectServerFiles({ ...NONE, writable: [join(w.link, "state", "join-helper")] }, files, ruleText),
      ),
    ).toBe(
      `-32602 sandbox rule write ${w.link}/state/join-helper cannot be enforced: it lies inside the server's own files`,
    );
  });

  test("refuses a root that is the secret file", async () => {
    await using w = await world();
    const files = { secretFiles: [join(w.real, "token")] };
    expect(await refusal(protectServerFiles({ ...NONE, readable: [join(w.link, "token")] }, files, ruleText)))
      .toBe(
        `-32602 sandbox rule read ${w.link}/token cannot be enforced: it is a file the server keeps secret`,
      );
  });

  test("leaves a policy whose roots hold none of them as it is", async () => {
    await using w = await world();
    const policy = { ...NONE, readable: ["/usr"], writable: [join(w.root, "elsewhere")] };
    expect(
      await protectServerFiles(
        policy,
        { ownFiles: [join(w.real, "state")], secretFiles: [join(w.real, "token")] },
        ruleText,
      ),
    ).toEqual(policy);
  });

  test("keeps every server's state directory in a place it holds read-only, and refuses a root inside one", async () => {
    await using w = await world();
    const base = join(w.real, "tmp");
    const dirs = [join(base, "exec-server-12-AbC123"), join(base, "exec-server-uid-65534")];
    for (const dir of dirs) await mkdir(dir, { recursive: true });
    await mkdir(join(base, "work"));
    const files = { stateDirBases: [base] };
    const policy = await protectServerFiles({ ...NONE, writable: [join(w.link, "tmp")] }, files, ruleText);
    expect(policy.readOnly.toSorted()).toEqual(dirs.map((dir) => dir.replace(w.real, w.link)).toSorted());
    // A root that holds none of them, or only the place's other entries, keeps its policy.
    const work = { ...NONE, writable: [join(base, "work")] };
    expect(await protectServerFiles(work, files, ruleText)).toEqual(work);
    expect(
      await refusal(
        protectServerFiles(
          { ...NONE, writable: [join(w.link, "tmp", "exec-server-uid-65534", "x")] },
          files,
          ruleText,
        ),
      ),
    ).toBe(
      `-32602 sandbox rule write ${w.link}/tmp/exec-server-uid-65534/x cannot be enforced: it lies inside a server's state directory`,
    );
  });

  test("refuses a writable root that holds more state directories than it keeps read-only", async () => {
    await using w = await world();
    const base = join(w.real, "tmp");
    for (let i = 0; i < 257; i++) await mkdir(join(base, `exec-server-${i}-AbC123`), { recursive: true });
    expect(
      await refusal(protectServerFiles({ ...NONE, writable: [base] }, { stateDirBases: [base] }, ruleText)),
    )
      .toBe(
        `-32602 sandbox rule write ${base} cannot be enforced: it holds more than 256 exec-server state directories in file://${base}`,
      );
  });
});
