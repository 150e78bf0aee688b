/**
 * Which kernel-interface mounts under the new root the launcher acts on, from its mount table, and
 * which host sockets it looks at, from the socket table
 * (the acts themselves, and the race they hold against, are in escape.test.ts).
 */
import { describe, expect, test } from "bun:test";
import { kernelMountActions, type MountEntry, parseMountInfo } from "../../src/launcher/kernel_mounts.ts";
import {
  boundSocketPaths,
  boundSockets,
  CROWDED_SOCKETS,
  crowdedDirectories,
} from "../../src/launcher/host_sockets.ts";

/** One mountinfo line: id, parent, mount point, per-mount options and type. */
function line(id: number, parent: number, mountPoint: string, options: string, type: string): string {
  return `${id} ${parent} 0:${id} / ${mountPoint} ${options},relatime - ${type} none rw`;
}

describe("kernelMountActions", () => {
  test("covers proc and mqueue, makes the other interfaces read-only, and leaves storage alone", () => {
    const table = [
      line(1, 0, "/", "rw", "tmpfs"),
      line(2, 1, "/newroot", "rw", "tmpfs"),
      line(3, 2, "/newroot/w", "rw", "ext4"),
      line(4, 3, "/newroot/w/chroot/proc", "rw", "proc"),
      line(5, 4, "/newroot/w/chroot/proc/sys/fs/binfmt_misc", "rw", "binfmt_misc"),
      line(6, 3, "/newroot/w/chroot/dev/mqueue", "rw", "mqueue"),
      line(7, 3, "/newroot/w/chroot/sys", "rw", "sysfs"),
      line(8, 7, "/newroot/w/chroot/sys/fs/cgroup", "ro", "cgroup2"),
      line(9, 3, "/newroot/w/data", "rw", "xfs"),
      line(10, 1, "/oldroot/sys", "rw", "sysfs"),
    ].join("\n");
    expect(kernelMountActions(parseMountInfo(table), "/newroot")).toEqual([
      { id: 7, path: "/newroot/w/chroot/sys", action: "readOnly" },
      { id: 4, path: "/newroot/w/chroot/proc", action: "hide" },
      { id: 6, path: "/newroot/w/chroot/dev/mqueue", action: "hide" },
    ]);
  });

  test("leaves a mount its path does not reach: stacked on, or behind a copy mounted on the way", () => {
    const table = [
      line(1, 0, "/", "rw", "tmpfs"),
      line(2, 1, "/newroot", "rw", "tmpfs"),
      line(3, 2, "/newroot/w", "rw", "ext4"),
      // A carve-out's copy of `/w/chroot` hides the original tree's sysfs under it.
      line(4, 3, "/newroot/w/chroot/sys", "rw", "sysfs"),
      line(5, 3, "/newroot/w/chroot", "rw", "ext4"),
      line(6, 5, "/newroot/w/chroot/sys", "rw", "sysfs"),
      // Something stacked on a cgroup file system hides it.
      line(7, 3, "/newroot/w/cg", "rw", "cgroup2"),
      line(8, 7, "/newroot/w/cg", "rw", "tmpfs"),
    ].join("\n");
    expect(kernelMountActions(parseMountInfo(table), "/newroot")).toEqual([
      { id: 6, path: "/newroot/w/chroot/sys", action: "readOnly" },
    ]);
  });

  test("reads escaped mount points", () => {
    const table = [
      line(1, 0, "/", "rw", "tmpfs"),
      line(2, 1, "/newroot", "rw", "tmpfs"),
      line(3, 2, "/newroot/a\\040b", "rw", "proc"),
    ]
      .join("\n");
    expect(kernelMountActions(parseMountInfo(table), "/newroot")).toEqual([
      { id: 3, path: "/newroot/a b", action: "hide" },
    ]);
  });
});

describe("boundSocketPaths", () => {
  test("takes the paths of bound sockets, spaces included, and skips unbound and abstract ones", () => {
    const table = [
      "Num       RefCount Protocol Flags    Type St Inode Path",
      "0000000000000000: 00000002 00000000 00010000 0001 01 1201 /run/dbus/system_bus_socket",
      "0000000000000000: 00000003 00000000 00000000 0001 03 1202",
      "0000000000000000: 00000002 00000000 00010000 0001 01 1203 @/tmp/.X11-unix/X0",
      "0000000000000000: 00000002 00000000 00010000 0001 01 1204 /tmp/a b/agent.1",
      "0000000000000000: 00000002 00000000 00000000 0002 01 1205 /run/dbus/system_bus_socket",
    ].join("\n");
    expect(boundSocketPaths(table)).toEqual(["/run/dbus/system_bus_socket", "/tmp/a b/agent.1"]);
    // A listening socket and a datagram one serve their path; a connection accepted there does not.
    expect(boundSockets(table)).toEqual([
      { path: "/run/dbus/system_bus_socket", inode: "1201", serving: true, file: null },
      { path: "/tmp/a b/agent.1", inode: "1204", serving: true, file: null },
      { path: "/run/dbus/system_bus_socket", inode: "1205", serving: true, file: null },
    ]);
    const accepted = "0000000000000000: 00000003 00000000 00000000 0001 03 1206 /run/x.sock";
    expect(boundSockets(`header\n${accepted}`)).toEqual([{
      path: "/run/x.sock",
      inode: "1206",
      serving: false,
      file: null,
    }]);
  });
});

describe("crowdedDirectories", () => {
  const mount = (id: number, mountPoint: string): MountEntry => ({
    id,
    parent: 1,
    device: "8:1",
    root: "/",
    mountPoint,
    type: "ext4",
    readOnly: true,
  });
  const many = (dir: string, count: number): string[] =>
    Array.from({ length: count }, (_, i) => `${dir}/d${i}/s`);

  test("takes the highest directory of an area that holds no other mount, past the limit only", () => {
    const mounts = [mount(1, "/newroot"), mount(2, "/newroot/w/ws/keep")];
    const paths = [...many("/w/ws/crowd", CROWDED_SOCKETS + 1), ...many("/w/quiet", CROWDED_SOCKETS)];
    // /w holds the mount of /w/ws/keep, so the sockets under /w/ws/crowd make that directory crowded;
    // those of /w/quiet are as many as the limit, and stay one by one.
    const under = "/newroot";
    expect(crowdedDirectories(paths, { areas: ["/w"], under, mounts, keep: [] })).toEqual(["/w/ws/crowd"]);
    expect(crowdedDirectories(paths, { areas: ["/w/ws"], under, mounts, keep: [] })).toEqual(["/w/ws/crowd"]);
  });

  test("never takes a directory outside the areas, a whole root, or one that holds another mount", () => {
    const mounts = [mount(1, "/newroot"), mount(2, "/newroot/w/keep")];
    const crowd = Array.from({ length: CROWDED_SOCKETS + 1 }, (_, i) => `/w/s${i}`);
    const under = "/newroot";
    expect(crowdedDirectories(crowd, { areas: [], under, mounts, keep: [] })).toEqual([]);
    expect(crowdedDirectories(crowd, { areas: ["/"], under, mounts, keep: [] })).toEqual([]);
    // The sockets lie in /w itself, which holds /w/keep: none is a directory to cover.
    expect(crowdedDirectories(crowd, { areas: ["/w"], under, mounts, keep: [] })).toEqual([]);
  });

  test("never takes a directory that holds what the launch must show", () => {
    const mounts = [mount(1, "/newroot")];
    const crowd = Array.from({ length: CROWDED_SOCKETS + 1 }, (_, i) => `/w/ws/d/s${i}`);
    const under = "/newroot";
    // The worker's bundle of a server installed in the area, inside a root that shows it already.
    const keep = ["/", "/w/ws/server/worker.js"];
    expect(crowdedDirectories(crowd, { areas: ["/w/ws"], under, mounts, keep })).toEqual(["/w/ws/d"]);
    expect(crowdedDirectories(crowd, { areas: ["/w/ws"], under, mounts, keep: ["/w/ws/d/cwd"] })).toEqual([]);
    // A root or cwd that is the crowded directory itself stays shown: the cover goes below it.
    expect(crowdedDirectories(crowd, { areas: ["/w/ws"], under, mounts, keep: ["/w/ws"] })).toEqual([
      "/w/ws/d",
    ]);
    expect(crowdedDirectories(crowd, { areas: ["/w/ws"], under, mounts, keep: ["/w/ws/d"] })).toEqual([]);
  });
});
