import { encodeStdinArgs } from "../launcher/mod.ts";
import type { PipeChild, Runtime } from "../runtime/mod.ts";
import type { LaunchHandoff } from "../sandbox/mod.ts";
import type { WorkerLaunch } from "./fs_worker.ts";

/** A launcher started ahead of need, waiting for its argv on stdin. */
interface Spare {
  /** The shape of the launches it can take (`shapeOf`). */
  readonly shape: string;
  readonly child: Promise<PipeChild>;
  exited: boolean;
}

/** What must match for a spare to take a launch: all it was started with. */
function shapeOf(launch: WorkerLaunch & { readonly handoff: LaunchHandoff }): string {
  return JSON.stringify([launch.program, launch.handoff.spareArgs, launch.env, launch.cwd]);
}

/**
 * One fs worker launcher kept started ahead of need (`sandbox-exec --args-on-stdin`), so a worker
 * start skips the launcher's own start (the runtime, its modules, the FFI library): on Bun a
 * first sandboxed call took 34–41 ms with the launcher started on demand, 23–34 ms with a spare.
 * The spare runs as the server's user, unconfined, like any launcher before it confines itself; it
 * reads nothing but its argv, which only the server writes, and confines itself before the worker
 * runs. Taking it starts the next one.
 */
export class SpareLaunchers {
  readonly #runtime: Runtime;
  #spare: Spare | null = null;
  #closed = false;

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
  }

  /** Starts a spare for launches shaped like `launch`, unless one of that shape waits. */
  prepare(launch: WorkerLaunch): void {
    const handoff = launch.handoff;
    if (this.#closed || handoff === undefined) return;
    const shape = shapeOf({ ...launch, handoff });
    if (this.#spare !== null && this.#spare.shape === shape && !this.#spare.exited) return;
    this.#discard();
    const child = this.#runtime.spawn({
      program: launch.program,
      args: handoff.spareArgs,
      argv0: launch.program,
      cwd: launch.cwd,
      env: launch.env,
      stdin: "pipe",
    });
    const spare: Spare = { shape, child, exited: false };
    this.#spare = spare;
    void child.then((started) => started.exited, () => null).then(() => {
      spare.exited = true;
    });
  }

  /**
   * Hands `launch` to the waiting spare of its shape, which is then that launch's process (its
   * argv written, nothing else); null when none waits. Either way the next spare starts once `up`
   * settles, so that it does not take the CPU from the worker being started.
   */
  async take(launch: WorkerLaunch, up: Promise<unknown>): Promise<PipeChild | null> {
    const handoff = launch.handoff;
    if (handoff === undefined) return null;
    const spare = this.#spare;
    this.#spare = null;
    void up.then(() => this.prepare(launch), () => this.prepare(launch));
    if (spare === null) return null;
    const child = await spare.child.catch(() => null);
    if (child === null || child.stdin === null) return null;
    if (spare.shape !== shapeOf({ ...launch, handoff }) || spare.exited) {
      this.#dismiss(child);
      return null;
    }
    try {
      await child.stdin.write(encodeStdinArgs(handoff.stdinArgs));
    } catch {
      this.#dismiss(child);
      return null;
    }
    return child;
  }

  /** Ends the waiting spare; no more start. */
  close(): void {
    this.#closed = true;
    this.#discard();
  }

  #discard(): void {
    const spare = this.#spare;
    this.#spare = null;
    if (spare !== null) void spare.child.then((child) => this.#dismiss(child), () => {});
  }

  /**
   * Closes the spare's stdin: it reads the end and exits by itself. No signal: once it is reaped
   * its number may be another process's.
   */
  #dismiss(child: PipeChild): void {
    void child.stdin?.close().catch(() => {});
    void child.stdout.cancel().catch(() => {});
    void child.stderr.cancel().catch(() => {});
  }
}
