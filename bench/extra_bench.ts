/**
 * The figures measured only when the bench compares against the reference server (`--reference`):
 * pipelined starts, PTY throughput, small stdin writes. Same wire for every server: Codex client
 * style (no `jsonrpc` member, a `writeId` on every write, absolute program paths).
 * @module
 */
import { BenchClient } from "./ws_client.ts";
import { megabytesPerSecond, summarize } from "./stats.ts";

/** The extra figures of one server; null figures failed, with the reason in the server's errors. */
export interface ExtraResult {
  /** A new connection's upgrade, `initialize` and `initialized`, one after another: median ms. */
  connectMs: number | null;
  connects: number;
  /** `count` process/start of /bin/true sent back to back on one connection: first send → last closed. */
  pipelinedStartsMs: number | null;
  pipelinedStarts: number;
  /** Decoded bytes per second of `yes | head -c N` on a terminal (the terminal adds `\r`). */
  ptyMBps: number | null;
  ptyBytes: number | null;
  /** Sequential process/write round trips to `cat` (each awaited), per second. */
  writesPerSecond: number | null;
  writes: number;
  /** Writes answered before the time budget ran out (a stalling server does not hang the bench). */
  writesDone: number | null;
}

/** An empty result for `count` starts and `writes` writes. */
export function emptyExtra(pipelinedStarts: number, writes: number, connects: number): ExtraResult {
  return {
    connectMs: null,
    connects,
    pipelinedStartsMs: null,
    pipelinedStarts,
    ptyMBps: null,
    ptyBytes: null,
    writesPerSecond: null,
    writes,
    writesDone: null,
  };
}

/**
 * `count` new connections, one after another: from opening the socket to the `initialize` result
 * (BenchClient.open also sends `initialized`), each closed before the next; the median ms.
 */
export async function measureConnects(url: string, count: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const client = await BenchClient.open(url);
    samples.push(performance.now() - start);
    client.close();
  }
  return summarize(samples).median;
}

/** Sends `count` starts of /bin/true without waiting; ms until every process has closed. */
export async function measurePipelinedStarts(
  client: BenchClient,
  cwd: string,
  prefix: string,
  count: number,
): Promise<number> {
  const closed: Promise<void>[] = [];
  const started: Promise<unknown>[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const processId = `${prefix}-${i}`;
    const done = Promise.withResolvers<void>();
    client.listen(processId, (method) => {
      if (method === "process/closed") done.resolve();
    });
    closed.push(done.promise);
    started.push(client.call("process/start", { processId, argv: ["/bin/true"], cwd, env: {}, tty: false }));
  }
  await Promise.all([...started, ...closed]);
  const ms = performance.now() - start;
  for (let i = 0; i < count; i++) client.unlisten(`${prefix}-${i}`);
  return ms;
}

/** Runs `yes | head -c bytes` on a terminal; the decoded terminal output per second. */
export async function measurePty(
  client: BenchClient,
  cwd: string,
  processId: string,
  bytes: number,
): Promise<{ mbps: number; bytes: number }> {
  let received = 0;
  let exitCode: unknown = null;
  const closed = Promise.withResolvers<void>();
  client.listen(processId, (method, params) => {
    if (method === "process/output") received += Buffer.from(String(params["chunk"]), "base64").byteLength;
    else if (method === "process/exited") exitCode = params["exitCode"];
    else if (method === "process/closed") closed.resolve();
  });
  const start = performance.now();
  try {
    await Promise.all([
      client.call("process/start", {
        processId,
        argv: ["/bin/sh", "-c", `yes | head -c ${bytes}`],
        cwd,
        env: { PATH: "/usr/bin:/bin" },
        tty: true,
      }),
      closed.promise,
    ]);
  } finally {
    client.unlisten(processId);
  }
  const ms = performance.now() - start;
  if (exitCode !== 0) throw new Error(`yes | head exited with ${String(exitCode)}`);
  // The terminal turns each "y\n" into "y\r\n".
  if (received < bytes) throw new Error(`received ${received} bytes from the terminal, expected ≥ ${bytes}`);
  return { mbps: megabytesPerSecond(received, ms), bytes: received };
}

/** How long the small writes may take before the figure is taken from the writes done so far. */
const WRITES_BUDGET_MS = 20_000;

/**
 * `count` one-line writes to `cat`, each awaited before the next, or as many as are answered
 * within WRITES_BUDGET_MS; writes per second and how many were done.
 */
export async function measureWrites(
  client: BenchClient,
  cwd: string,
  processId: string,
  count: number,
): Promise<{ perSecond: number; done: number }> {
  const closed = Promise.withResolvers<void>();
  client.listen(processId, (method) => {
    if (method === "process/closed") closed.resolve();
  });
  const chunk = Buffer.from("0123456789abcdef\n").toString("base64");
  try {
    await client.call("process/start", {
      processId,
      argv: ["/bin/cat"],
      cwd,
      env: {},
      tty: false,
      pipeStdin: true,
    });
    const start = performance.now();
    const budget = Promise.withResolvers<null>();
    const timer = setTimeout(() => budget.resolve(null), WRITES_BUDGET_MS);
    let done = 0;
    try {
      for (; done < count; done++) {
        const write = client.call("process/write", { processId, chunk, writeId: String(done + 1) });
        const reply = await Promise.race([write, budget.promise]);
        if (reply === null) break;
        if (reply["status"] !== "accepted") {
          throw new Error(`write ${done + 1} answered ${String(reply["status"])}`);
        }
      }
    } finally {
      clearTimeout(timer);
    }
    const ms = performance.now() - start;
    // The reference serves no process/closeStdin; terminate ends cat on both.
    await client.call("process/terminate", { processId });
    await closed.promise;
    return { perSecond: done / (ms / 1000), done };
  } finally {
    client.unlisten(processId);
  }
}
