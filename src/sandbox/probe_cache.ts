/**
 * The start-up probe's report, kept beside the images of one version of the sources and keyed by
 * everything its answer depends on, so a server that starts where an earlier one has probed skips
 * the probe's child (a runtime start: 40–70 ms). The directory is this user's own and read-only
 * in every sandbox, like the bundles beside it that every launch runs. A report from another
 * context is never read: its key differs. And a wrong report cannot weaken a sandbox: a layer it
 * claims and the host lacks makes launches fail, and a layer it denies makes policies refused.
 */
import { createHash } from "node:crypto";
import { readFile, readlink, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";

/** The parts of `/proc/self/status` that decide what this process and its children may do. */
const STATUS_FIELDS = /^(NoNewPrivs|Seccomp|Seccomp_filters|Cap(Inh|Prm|Eff|Bnd|Amb)):/;
/** The namespaces the probe's child inherits and tries to leave. */
const NAMESPACES = ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"];
/** The host settings that allow or forbid unprivileged user and mount namespaces. */
const SYSCTLS = [
  "kernel/unprivileged_userns_clone",
  "kernel/apparmor_restrict_unprivileged_userns",
  "user/max_user_namespaces",
  "user/max_mnt_namespaces",
];

/**
 * The key of this process's probe context, or null when it cannot be told (no boot id): then the
 * probe runs and nothing is kept. It covers the boot (kernel and its Landlock ABI), the user, the
 * process's own confinement (seccomp, no_new_privs, capabilities, LSM label), its namespaces and
 * their id maps, the namespace sysctls, and how the probe starts (`probe`, the helper included).
 */
export async function probeContextKey(probe: readonly string[]): Promise<string | null> {
  const read = (path: string): Promise<string> => readFile(path, "utf8").catch(() => "-");
  const bootId = (await read("/proc/sys/kernel/random/boot_id")).trim();
  if (bootId === "-" || bootId === "") return null;
  const [status, label, uidMap, gidMap, namespaces, sysctls] = await Promise.all([
    read("/proc/self/status"),
    read("/proc/self/attr/current"),
    read("/proc/self/uid_map"),
    read("/proc/self/gid_map"),
    Promise.all(NAMESPACES.map((name) => readlink(`/proc/self/ns/${name}`).catch(() => "-"))),
    Promise.all(SYSCTLS.map((name) => read(`/proc/sys/${name}`))),
  ]);
  const facts = [
    bootId,
    `${process.getuid?.()}:${process.getgid?.()}`,
    status.split("\n").filter((line) => STATUS_FIELDS.test(line)).join("\n"),
    label,
    uidMap,
    gidMap,
    ...namespaces,
    ...sysctls,
    JSON.stringify(probe),
  ];
  return createHash("sha256").update(facts.join("\0")).digest("hex").slice(0, 32);
}

/** The report kept under `key` in `dir`, as text to validate, or null. */
export async function readProbeReport(dir: string, key: string): Promise<string | null> {
  return await readFile(join(dir, `probe-${key}.json`), "utf8").catch(() => null);
}

/** Keeps `report` under `key` in `dir`, whole or not at all; a failure only costs the next probe. */
export async function writeProbeReport(dir: string, key: string, report: unknown): Promise<void> {
  const file = join(dir, `probe-${key}.json`);
  const staging = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(staging, JSON.stringify(report), { mode: 0o600 });
    await rename(staging, file);
  } catch {
    // A read-only or vanished directory: the next server probes again.
    await rm(staging, { force: true }).catch(() => {});
  }
}
