/** The other paths under which the host's bind mounts show a place (`mount_aliases.ts`). */
import { describe, expect, test } from "bun:test";
import { aliasesIn, parseHostMounts } from "../../src/sandbox/mount_aliases.ts";

/** One mountinfo line: device, the directory of its file system shown, and where. */
function line(id: number, device: string, root: string, mountPoint: string): string {
  return `${id} 1 ${device} ${root} ${mountPoint} rw,relatime - ext4 /dev/x rw`;
}

const TABLE = parseHostMounts(
  [
    line(1, "8:1", "/", "/"),
    line(2, "0:5", "/", "/proc"),
    line(3, "8:1", "/home/me/work", "/workspace"),
    line(4, "8:1", "/home/me/work/sub", "/mnt/sub"),
    line(5, "8:2", "/", "/data"),
    line(6, "8:2", "/", "/srv/data\\040copy"),
  ].join("\n"),
);

describe("aliasesIn", () => {
  test("finds the paths other mounts of the same file system show a place under", () => {
    expect(aliasesIn(TABLE, "/home/me/work/proj")).toEqual(["/workspace/proj"]);
    // A mount that shows a part of it: its whole mount point.
    expect(aliasesIn(TABLE, "/home/me/work").sort()).toEqual(["/mnt/sub", "/workspace"]);
    expect(aliasesIn(TABLE, "/workspace/sub/x").sort()).toEqual(["/home/me/work/sub/x", "/mnt/sub/x"]);
    expect(aliasesIn(TABLE, "/data/a")).toEqual(["/srv/data copy/a"]);
    expect(aliasesIn(TABLE, "/data")).toEqual(["/srv/data copy"]);
  });

  test("finds none where no other mount shows it", () => {
    expect(aliasesIn(TABLE, "/etc/passwd")).toEqual([]);
    expect(aliasesIn(TABLE, "/proc/1")).toEqual([]);
  });
});
