/**
 * The echo figure: several connections, each with several processes that get a block of bytes
 * through `process/write` and send it back as output (`head -c N` reads its stdin to N bytes and
 * writes them out). Measures the whole path both ways: base64 in, the child's stdin, its pipes,
 * base64 out, notifications; and spawning under load.
 * @module
 */
import { BenchClient } from "./ws_client.ts";

/** The shape of one echo run. */
export interface EchoConfig {
  readonly connections: number;
  readonly processes: number;
  /** Bytes each process gets and sends back. */
  readonly bytes: number;
  /** Bytes per `process/write`. */
  readonly writeBytes: number;
}

/** Deterministic, incompressible-looking bytes (a xorshift sequence from a fixed seed). */
export function echoPayload(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let state = 0x9e3779b9;
  for (let i = 0; i < bytes; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

/** The `head` that echoes: an absolute path, since the reference gets no PATH in `env: {}`. */
export const HEAD = "/usr/bin/head";

/**
 * Runs one echo: `url` is opened `config.connections` times (before the clock starts), each
 * connection starts its processes and writes to each as soon as its start is answered. Resolves
 * with the ms from the first start to the last `process/closed`, after checking every byte count.
 */
export async function measureEcho(
  url: string,
  cwd: string,
  prefix: string,
  config: EchoConfig,
): Promise<number> {
  const payload = echoPayload(config.bytes);
  const writes: string[] = [];
  for (let offset = 0; offset < payload.byteLength; offset += config.writeBytes) {
    writes.push(Buffer.from(payload.subarray(offset, offset + config.writeBytes)).toString("base64"));
  }
  const clients = await Promise.all(Array.from({ length: config.connections }, () => BenchClient.open(url)));
  try {
    const start = performance.now();
    await Promise.all(
      clients.map((client, c) =>
        Promise.all(Array.from({ length: config.processes }, (_, p) => {
          return echoOne(client, { processId: `${prefix}-${c}-${p}`, cwd, writes, bytes: config.bytes });
        }))
      ),
    );
    return performance.now() - start;
  } finally {
    for (const client of clients) client.close();
  }
}

async function echoOne(
  client: BenchClient,
  job: { processId: string; cwd: string; writes: readonly string[]; bytes: number },
): Promise<void> {
  const { processId } = job;
  let received = 0;
  let exitCode: unknown = null;
  const seqs = new Set<number>();
  const closed = Promise.withResolvers<number>();
  // The reference at times delivers `exited` after `closed` (its first echo run on a fresh server
  // read no exit code at `closed` in two bench runs): the run ends once both have come.
  const exited = Promise.withResolvers<void>();
  client.listen(processId, (method, params) => {
    seqs.add(Number(params["seq"]));
    if (method === "process/output") received += Buffer.from(String(params["chunk"]), "base64").byteLength;
    else if (method === "process/exited") {
      exitCode = params["exitCode"];
      exited.resolve();
    } else if (method === "process/closed") closed.resolve(Number(params["seq"]));
  });
  try {
    await client.call("process/start", {
      processId,
      argv: [HEAD, "-c", String(job.bytes)],
      cwd: job.cwd,
      env: {},
      tty: false,
      pipeStdin: true,
    });
    const written = job.writes.map((chunk, i) =>
      client.call("process/write", { processId, chunk, writeId: `w${i}` }).then((reply) => {
        if (reply["status"] !== "accepted") throw new Error(`write ${i} answered ${String(reply["status"])}`);
      })
    );
    const [lastSeq] = await Promise.all([closed.promise, exited.promise, ...written]);
    if (exitCode !== 0) throw new Error(`${processId}: head exited with ${String(exitCode)}`);
    if (received !== job.bytes) {
      throw new Error(`${processId}: ${received} bytes came back, ${job.bytes} went in`);
    }
    // A Codex server may send `exited` before a lower seq (PROTOCOL.md §10.3): count, do not order.
    if (seqs.size !== lastSeq) throw new Error(`${processId}: seqs 1..${lastSeq} have gaps`);
  } finally {
    client.unlisten(processId);
  }
}
