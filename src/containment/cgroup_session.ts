/**
 * A session's cgroups: `<root>/s<N>/p<M>` per process (and the same names under each v1 root on
 * a hybrid host). A session is a subtree, so killing it reaches the descendants of processes that
 * have already closed.
 */
import { mkdir } from "node:fs/promises";
import type { ProcessLimitsParam } from "../protocol/mod.ts";
import { killCgroup, removeDir, removeTree, untilEmpty, writeControl } from "./cgroup_files.ts";
import { applyLimits, CgroupContainer, removeDirs } from "./cgroup_container.ts";
import type { Dirs, TreeContext } from "./cgroup_container.ts";
import type { Container, ProcessLimits, SessionContainment } from "./containment.ts";

/** How long removing a killed session waits for its processes to go. */
const REMOVE_WAIT_MS = 5_000;

/** The cgroups of one session. */
export class CgroupSession implements SessionContainment {
  readonly #context: TreeContext;
  readonly #dirs: Dirs;
  readonly #resolve: (request: ProcessLimitsParam | null | undefined) => ProcessLimits;
  #created: Promise<void> | null = null;
  /** A process cgroup made ahead of the next start, so that a start waits for no mkdir. */
  #spare: Promise<Dirs> | null = null;
  #next = 0;

  /** `resolve` applies the server's defaults and refuses what the host cannot enforce. */
  constructor(
    context: TreeContext,
    name: string,
    resolve: (request: ProcessLimitsParam | null | undefined) => ProcessLimits,
  ) {
    this.#context = context;
    this.#resolve = resolve;
    const host = context.host;
    const v1 = (controller: "memory" | "pids"): string | null => {
      const place = host.controllers.get(controller);
      return place?.version === 1 ? `${place.root}/${name}` : null;
    };
    this.#dirs = { unified: `${host.root}/${name}`, memory: v1("memory"), pids: v1("pids") };
  }

  resolveLimits(request: ProcessLimitsParam | null | undefined): ProcessLimits {
    return this.#resolve(request);
  }

  async create(limits: ProcessLimits): Promise<Container> {
    this.#created ??= this.#createSelf();
    await this.#created;
    const spare = this.#spare;
    this.#spare = this.#make();
    // A failed prefetch surfaces when it is taken; until then nothing waits on it.
    this.#spare.catch(() => {});
    let dirs = await (spare ?? this.#make()).catch(() => this.#make());
    try {
      const pidsRoot = this.#dirs.pids;
      if (pidsRoot !== null && limits.pids !== null) {
        // A v1 pids cgroup costs a directory per process; it exists only to carry a limit.
        const pids = `${pidsRoot}/${dirs.unified.slice(dirs.unified.lastIndexOf("/") + 1)}`;
        await mkdir(pids);
        dirs = { ...dirs, pids };
      }
      await applyLimits(this.#context.host, dirs, limits);
    } catch (error) {
      await removeDirs(dirs).catch(() => {});
      throw error;
    }
    return new CgroupContainer(this.#context, dirs, limits);
  }

  /** Makes the next process cgroup (without a v1 pids directory). */
  async #make(): Promise<Dirs> {
    const name = `p${++this.#next}`;
    const own = this.#dirs;
    const dirs: Dirs = {
      unified: `${own.unified}/${name}`,
      memory: own.memory === null ? null : `${own.memory}/${name}`,
      pids: null,
    };
    await mkdir(dirs.unified);
    if (dirs.memory !== null) {
      try {
        await mkdir(dirs.memory);
      } catch (error) {
        await removeDir(dirs.unified).catch(() => {});
        throw error;
      }
    }
    return dirs;
  }

  killAll(): Promise<void> {
    if (this.#created === null) return Promise.resolve();
    return killCgroup(this.#dirs.unified).catch((error: unknown) => {
      this.#context.onError("killing a session's cgroup failed", error);
    });
  }

  async close(): Promise<void> {
    if (this.#created === null) return;
    await this.#created.catch(() => {});
    // A spare still being made would land in a directory already listed for removal.
    await this.#spare?.catch(() => {});
    this.#spare = null;
    try {
      await untilEmpty(this.#dirs.unified, AbortSignal.timeout(REMOVE_WAIT_MS));
      for (const dir of [this.#dirs.unified, this.#dirs.memory, this.#dirs.pids]) {
        if (dir !== null) await removeTree(dir);
      }
    } catch (error) {
      this.#context.onError("removing a session's cgroups failed", error);
    }
  }

  async #createSelf(): Promise<void> {
    const { unified, memory, pids } = this.#dirs;
    await mkdir(unified);
    const v2 = [...this.#context.host.controllers].filter(([, place]) => place.version === 2);
    if (v2.length > 0) {
      await writeControl(`${unified}/cgroup.subtree_control`, v2.map(([name]) => `+${name}`).join(" "));
    }
    for (const dir of [memory, pids]) if (dir !== null) await mkdir(dir);
  }
}
