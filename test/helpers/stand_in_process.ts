/**
 * A `ManagedProcess` over a stand-in child, for tests of what the process does with its pipes:
 * no child is spawned, and its pid is one no process has, so nothing signalled reaches anyone.
 */
import type { Container } from "../../src/containment/mod.ts";
import { InputBudget } from "../../src/process/input_budget.ts";
import { ManagedProcess } from "../../src/process/managed_process.ts";
import type { ProcessEvents } from "../../src/process/managed_process.ts";
import type { ExitStatus, PipeChild, Runtime } from "../../src/runtime/mod.ts";

/** Above any pid the kernel hands out. */
const NO_PID = 2 ** 31 - 1;

/** A byte stream, as Deno's pipes are, that ends at once: a child that wrote nothing. */
export function emptyPipe(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "bytes",
    start(controller) {
      controller.close();
    },
  });
}

/** A container that only takes the calls a process makes of it. */
export function idleContainer(): Container {
  return {
    started: () => {},
    leaderReaped: () => {},
    limitFailure: () => Promise.resolve(null),
    closed: () => {},
    signalAll: () => {},
  } as unknown as Container;
}

/** What differs between the stand-in processes of the tests. */
export interface StandInOptions {
  readonly processId: string;
  readonly argv0: string;
  readonly retainedOutputBytes: number;
  /** Called for each output chunk the process appends. */
  readonly output?: () => void;
  /** Whether the output goes to a connection (`ProcessEvents.delivering`). */
  readonly delivering?: boolean;
}

/** A pipe process that touches only what `runtime` stands in for. */
export function standInProcess(runtime: Runtime, options: StandInOptions): ManagedProcess {
  const events: ProcessEvents = {
    output: options.output ?? (() => {}),
    exited: () => {},
    closed: () => {},
    flowReady: () => null,
    delivering: () => options.delivering ?? false,
  };
  return new ManagedProcess(runtime, {
    processId: options.processId,
    argv0: options.argv0,
    tty: false,
    retainedOutputBytes: options.retainedOutputBytes,
    killGraceMs: 1000,
    inputBudget: new InputBudget(1024).account({}),
    writeIdsKept: 1024,
  }, events);
}

/** Runs `process` over a child whose stdout is `stdout` and which has exited 0; resolves at close. */
export async function closeOver(process: ManagedProcess, stdout: ReadableStream<Uint8Array>): Promise<void> {
  const child: PipeChild = {
    pid: NO_PID,
    stdout,
    stderr: emptyPipe(),
    stdin: null,
    exited: Promise.resolve<ExitStatus>({ code: 0, signal: null }),
  };
  process.attachPipes(child, { timeoutMs: null, container: idleContainer() });
  await process.closedPromise;
}
