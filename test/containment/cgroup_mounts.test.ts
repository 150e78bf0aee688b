import { describe, expect, test } from "bun:test";
import { cgroupPlaces } from "../../src/containment/mod.ts";

const HYBRID_MOUNTS = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

const HYBRID_CGROUPS = `8:pids:/
4:memory:/process_api/6b01
1:cpu:/
0::/
`;

describe("cgroupPlaces", () => {
  test("cgroupPlaces finds the unified tree and the v1 memory and pids trees of a hybrid host", () => {
    const places = cgroupPlaces(HYBRID_MOUNTS, HYBRID_CGROUPS);
    expect(places.unified).toEqual({ mount: "/sys/fs/cgroup/unified", dir: "/sys/fs/cgroup/unified" });
    expect(Object.fromEntries(places.v1)).toEqual({
      memory: { mount: "/sys/fs/cgroup/memory", dir: "/sys/fs/cgroup/memory/process_api/6b01" },
      pids: { mount: "/sys/fs/cgroup/pids", dir: "/sys/fs/cgroup/pids" },
    });
  });

  test("cgroupPlaces finds the own directory on a cgroup v2 host", () => {
    const places = cgroupPlaces(
      "25 20 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
      "0::/system.slice/exec-server.service\n",
    );
    expect(places).toEqual({
      unified: { mount: "/sys/fs/cgroup", dir: "/sys/fs/cgroup/system.slice/exec-server.service" },
      v1: new Map(),
    });
  });

  test("cgroupPlaces maps a mount of a subtree and decodes escaped mount points", () => {
    const places = cgroupPlaces(
      "25 20 0:23 /kubepods/pod1 /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n",
      "0::/kubepods/pod1/app\n",
    );
    expect(places.unified).toEqual({ mount: "/sys/fs/cgroup x", dir: "/sys/fs/cgroup x/app" });
  });

  test("cgroupPlaces ignores a cgroup that its mount does not show", () => {
    const places = cgroupPlaces("25 20 0:23 /a /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/b/c\n");
    expect(places.unified).toBeNull();
  });
});
