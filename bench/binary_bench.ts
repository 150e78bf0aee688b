/**
 * The bulk figures again on a connection that asked for binary frames (PROTOCOL.md §11.12): stdout
 * streamed to the client and a whole-file `fs/readFile`, each without base64 on either side.
 */
import { measureStdout } from "./server_bench.ts";
import { megabytesPerSecond, summarize } from "./stats.ts";
import { BenchClient } from "./ws_client.ts";

/** Medians over the runs; null when the server does not offer binary frames (the reference). */
export interface BinaryResult {
  stdoutMBps: number | null;
  readFileMBps: number | null;
  /** Every run, in order (MB/s). */
  stdoutRuns: number[];
  readFileRuns: number[];
}

/** How many whole-file reads the readFile figure is the median of. */
const READ_RUNS = 3;

/** Measures both figures on one binary connection; null when the server declines binary frames. */
export async function measureBinary(
  url: string,
  options: { dir: string; fileUri: string; fileBytes: number; stdoutBytes: number; stdoutRuns: number },
): Promise<BinaryResult | null> {
  const client = await BenchClient.open(url, { binaryFrames: true });
  try {
    if (!client.binaryFrames) return null;
    const stdout: number[] = [];
    for (let i = 0; i < options.stdoutRuns; i++) {
      stdout.push((await measureStdout(client, `binary-stdout-${i}`, options.dir, options.stdoutBytes)).mbps);
    }
    const reads: number[] = [];
    for (let i = 0; i < READ_RUNS; i++) {
      reads.push(await readWholeFile(client, options.fileUri, options.fileBytes));
    }
    return {
      stdoutMBps: summarize(stdout).median,
      readFileMBps: summarize(reads).median,
      stdoutRuns: stdout,
      readFileRuns: reads,
    };
  } finally {
    client.close();
  }
}

/** One `fs/readFile` whose bytes come in a binary frame, checked for length; MB/s. */
async function readWholeFile(client: BenchClient, fileUri: string, bytes: number): Promise<number> {
  const start = performance.now();
  const result = await client.call("fs/readFile", { path: fileUri });
  const ms = performance.now() - start;
  const payload = result["bytes"];
  if (!(payload instanceof Uint8Array)) throw new Error("fs/readFile did not come as a binary frame");
  if (payload.byteLength !== bytes) {
    throw new Error(`fs/readFile returned ${payload.byteLength} bytes, expected ${bytes}`);
  }
  return megabytesPerSecond(bytes, ms);
}
