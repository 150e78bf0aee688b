/** The process figures measured through the server over a WebSocket (PROTOCOL.md §5). */
import { BenchClient } from "./ws_client.ts";
import { megabytesPerSecond, summarize } from "./stats.ts";
import type { Summary } from "./stats.ts";

/** The delivered stdout of one `head -c N /dev/zero` run, checked. */
export interface StdoutRun {
  bytes: number;
  chunks: number;
  ms: number;
  mbps: number;
  /** CPU the server and the bench client spent on this run (diagnostics; null when unknown). */
  serverCpuMs: number | null;
  clientCpuMs: number | null;
}

/** Starts `argv` as `processId` and resolves once its `process/closed` arrives. */
export async function startAndWaitClosed(
  client: BenchClient,
  processId: string,
  argv: readonly string[],
  cwd: string,
): Promise<void> {
  const closed = Promise.withResolvers<void>();
  client.listen(processId, (method) => {
    if (method === "process/closed") closed.resolve();
  });
  try {
    await Promise.all([
      client.call("process/start", { processId, argv, cwd, env: {}, tty: false }),
      closed.promise,
    ]);
  } finally {
    client.unlisten(processId);
  }
}

/** `/bin/true` start→closed round trips, one after another, in ms; `afterWarmup` runs between. */
export async function measureRoundTrip(
  client: BenchClient,
  cwd: string,
  warmup: number,
  runs: number,
  afterWarmup?: () => Promise<void>,
): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await startAndWaitClosed(client, `warm-${i}`, ["/bin/true"], cwd);
  await afterWarmup?.();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await startAndWaitClosed(client, `rt-${i}`, ["/bin/true"], cwd);
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}

/**
 * Streams `bytes` of stdout through the server, from the start request to `process/closed`.
 * Decodes every chunk, counts the bytes and checks that output seqs run 1, 2, 3… and that every
 * seq up to `closed` arrived. `exited` may come early: a Codex server sends it before a lower seq
 * now and then (PROTOCOL.md §10.3).
 */
export async function measureStdout(
  client: BenchClient,
  processId: string,
  cwd: string,
  bytes: number,
): Promise<StdoutRun> {
  let lastOutputSeq = 0;
  let received = 0;
  let chunks = 0;
  let exitCode: unknown = null;
  const seqs = new Set<number>();
  const closed = Promise.withResolvers<number>();
  // A Codex server may deliver `exited` before a lower seq or after a higher one (PROTOCOL.md
  // §10.3): the output must come in order, and every seq up to `closed` must come once.
  const exited = Promise.withResolvers<void>();
  client.listen(processId, (method, params) => {
    const seq = Number(params["seq"]);
    if (seqs.has(seq)) closed.reject(new Error(`${method} repeats seq ${seq}`));
    seqs.add(seq);
    if (method === "process/exited") {
      exitCode = params["exitCode"];
      exited.resolve();
    } else if (method === "process/output") {
      if (seq < lastOutputSeq) closed.reject(new Error(`output seq ${seq} came after ${lastOutputSeq}`));
      lastOutputSeq = seq;
      const bytes = params["bytes"];
      received += bytes instanceof Uint8Array
        ? bytes.byteLength
        : Buffer.from(String(params["chunk"]), "base64").byteLength;
      chunks++;
    } else if (method === "process/closed") {
      closed.resolve(seq);
    }
  });
  const start = performance.now();
  let closedSeq = 0;
  try {
    [, closedSeq] = await Promise.all([
      client.call("process/start", {
        processId,
        argv: ["head", "-c", String(bytes), "/dev/zero"],
        cwd,
        env: {},
        tty: false,
      }),
      closed.promise,
      exited.promise,
    ]);
  } finally {
    client.unlisten(processId);
  }
  const ms = performance.now() - start;
  if (exitCode !== 0) throw new Error(`head exited with ${String(exitCode)}`);
  if (seqs.size !== closedSeq) throw new Error(`seqs 1..${closedSeq} have gaps`);
  if (received !== bytes) throw new Error(`received ${received} bytes of stdout, expected ${bytes}`);
  return {
    bytes: received,
    chunks,
    ms,
    mbps: megabytesPerSecond(received, ms),
    serverCpuMs: null,
    clientCpuMs: null,
  };
}

/** `count` concurrent `sleep 0.2`: ms from sending the first start to the last `closed`. */
export async function measureSleeps(
  client: BenchClient,
  cwd: string,
  prefix: string,
  count: number,
): Promise<number> {
  const start = performance.now();
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) => startAndWaitClosed(client, `${prefix}-${i}`, ["sleep", "0.2"], cwd),
    ),
  );
  return performance.now() - start;
}
