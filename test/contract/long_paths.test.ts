/**
 * A `PathUri` is bounded only by its message, and normalizing one costs the server's thread time
 * for every segment. Past `MAX_PATH_URI_UNITS` a path is answered as the kernel answers a path past
 * `PATH_MAX`, before any of that work (PROTOCOL.md §9.1, docs/spec_deltas.md); below it the
 * kernel's own answers stand.
 */
import { describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MAX_PATH_URI_UNITS } from "../../src/protocol/paths.ts";
import { RUNTIMES } from "../helpers/server.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import { tempDir } from "../helpers/temp_dir.ts";

const NAME_TOO_LONG = {
  code: -32603,
  message: "File name too long (os error 36)",
  data: { kind: "OsError", errno: "ENAMETOOLONG" },
};

/** `dir`, then `a/../` until the path has `units` UTF-16 units, then `name`: it normalizes to `dir/name`. */
function detour(dir: string, name: string, units: number): string {
  const steps = "a/../".repeat(Math.ceil((units - dir.length - name.length) / 5));
  return `${dir}/${steps}${name}`;
}

describe.each(RUNTIMES)("long paths on %s", (runtime) => {
  const server = sharedServer(runtime);

  test.concurrent("a path past the bound is ENAMETOOLONG whatever it normalizes to, in fs and process methods", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    await writeFile(join(dir.path, "f"), "x");
    const within = detour(dir.path, "f", MAX_PATH_URI_UNITS - 10);
    expect(within.length).toBeLessThanOrEqual(MAX_PATH_URI_UNITS);
    expect(await client.call("fs/getMetadata", { path: within })).toMatchObject({ isFile: true });
    const past = detour(dir.path, "f", MAX_PATH_URI_UNITS + 10);
    expect(await client.callError("fs/getMetadata", { path: past })).toEqual(NAME_TOO_LONG);
    expect(await client.callError("fs/readFile", { path: `file://${past}` })).toEqual(NAME_TOO_LONG);
    const segments = `${dir.path}/${"a/".repeat(2_000_000)}`;
    expect(await client.callError("fs/getMetadata", { path: segments })).toEqual(NAME_TOO_LONG);
    const start = await client.callError("process/start", {
      processId: "long-cwd",
      argv: ["true"],
      cwd: past,
      env: {},
      tty: false,
      arg0: null,
    });
    expect(start).toEqual(NAME_TOO_LONG);
  });

  test.concurrent("a path within the bound but past PATH_MAX is the kernel's ENAMETOOLONG", async () => {
    await using dir = await tempDir();
    await using client = await server().session();
    expect(await client.callError("fs/getMetadata", { path: `${dir.path}/${"a".repeat(5000)}` })).toEqual(
      NAME_TOO_LONG,
    );
  });
});
