/** The fs figures measured through the server (PROTOCOL.md §7, sandboxed per §8). */
import { pathToFileURL } from "node:url";
import { BenchClient, WireCallError } from "./ws_client.ts";
import { errorText, megabytesPerSecond, summarize, withTimeout } from "./stats.ts";

/** What the fs part measures. */
export interface FsConfig {
  /** A directory the bench owns; the sandbox may write there. */
  dir: string;
  /** A file of `fileBytes` bytes inside `dir`. */
  file: string;
  fileBytes: number;
  metadataCalls: number;
  /** Name `dir` in the sandbox policy as a file:// URI (the reference takes no native path there). */
  uriSandboxPaths?: boolean;
}

/** The fs figures; null where not available, with the reason in `errors`. */
export interface FsResult {
  available: boolean;
  /** Why the fs figures (or only the sandboxed ones) are not available. */
  reason: string | null;
  getMetadataMsPerCall: number | null;
  sandboxedGetMetadataMsPerCall: number | null;
  /** The median of `firstSandboxedCallRunsMs`. */
  firstSandboxedCallMs: number | null;
  /**
   * The first sandboxed call of each of `FIRST_CALL_SESSIONS` fresh sessions, in order: each starts
   * the worker of its policy; the first is also the server's first sandboxed call of all.
   */
  firstSandboxedCallRunsMs: number[];
  readFileMBps: number | null;
  sandboxedReadFileMBps: number | null;
  readFileBytes: number;
  errors: Record<string, string>;
}

/** A managed, restricted policy that may write `dir` and reach no network (PROTOCOL.md §8). */
export function sandboxFor(dir: string): unknown {
  return {
    permissions: {
      type: "managed",
      file_system: { type: "restricted", entries: [{ path: { type: "path", path: dir }, access: "write" }] },
      network: "restricted",
    },
    windowsSandboxLevel: "disabled",
  };
}

const METHOD_NOT_FOUND = -32601;

/** Measures the fs figures on fresh connections to `url`. */
export async function measureFs(url: string, config: FsConfig): Promise<FsResult> {
  const result: FsResult = {
    available: false,
    reason: null,
    getMetadataMsPerCall: null,
    sandboxedGetMetadataMsPerCall: null,
    firstSandboxedCallMs: null,
    firstSandboxedCallRunsMs: [],
    readFileMBps: null,
    sandboxedReadFileMBps: null,
    readFileBytes: config.fileBytes,
    errors: {},
  };
  const dirUri = pathToFileURL(config.dir).href;
  const fileUri = pathToFileURL(config.file).href;
  const sandbox = sandboxFor(config.uriSandboxPaths === true ? dirUri : config.dir);

  const direct = await BenchClient.open(url);
  try {
    const probe = await direct.request("fs/getMetadata", { path: dirUri });
    const probeError = probe["error"] as { code: number; message: string } | undefined;
    if (probeError?.code === METHOD_NOT_FOUND) {
      result.reason = `fs/getMetadata answers ${METHOD_NOT_FOUND} (${probeError.message})`;
      return result;
    }
    result.available = true;
    await figure(result, "getMetadataMsPerCall", async () => {
      return await pipelined(direct, config.metadataCalls, () => ({ path: dirUri }));
    });
    await figure(result, "readFileMBps", () => readWholeFile(direct, { path: fileUri }, config.fileBytes));
  } finally {
    direct.close();
  }

  // A fresh session, so the first sandboxed call starts the worker for this policy.
  const sandboxed = await BenchClient.open(url);
  try {
    const start = performance.now();
    try {
      await sandboxed.call("fs/getMetadata", { path: dirUri, sandbox });
    } catch (error) {
      result.reason = `sandboxed fs/getMetadata failed: ${errorText(error)}`;
      return result;
    }
    result.firstSandboxedCallRunsMs.push(performance.now() - start);
    await figure(result, "sandboxedGetMetadataMsPerCall", async () => {
      return await pipelined(sandboxed, config.metadataCalls, () => ({ path: dirUri, sandbox }));
    });
    await figure(
      result,
      "sandboxedReadFileMBps",
      () => readWholeFile(sandboxed, { path: fileUri, sandbox }, config.fileBytes),
    );
  } finally {
    sandboxed.close();
  }
  // One start is one sample of a figure that moves ±20 % between runs: more fresh sessions, each
  // starting its worker on a server at rest as the first did, and the median of them all.
  for (let i = 1; i < FIRST_CALL_SESSIONS; i++) {
    await new Promise((resolve) => setTimeout(resolve, REST_BETWEEN_SESSIONS_MS));
    const session = await BenchClient.open(url);
    try {
      const start = performance.now();
      await session.call("fs/getMetadata", { path: dirUri, sandbox });
      result.firstSandboxedCallRunsMs.push(performance.now() - start);
    } catch (error) {
      result.errors["firstSandboxedCallMs"] = errorText(error);
      break;
    } finally {
      session.close();
    }
  }
  result.firstSandboxedCallMs = summarize(result.firstSandboxedCallRunsMs).median;
  return result;
}

/** How many fresh sessions measure the first sandboxed call. */
const FIRST_CALL_SESSIONS = 5;
/**
 * The pause before each of them: what a server does after a worker start (ours starts its next
 * spare launcher then) is over, as it was before the first.
 */
const REST_BETWEEN_SESSIONS_MS = 500;

type NumericFigure =
  | "getMetadataMsPerCall"
  | "sandboxedGetMetadataMsPerCall"
  | "readFileMBps"
  | "sandboxedReadFileMBps";

/** One figure may take this long: a server that never answers costs this figure only. */
const FIGURE_TIMEOUT_MS = 25_000;

async function figure(result: FsResult, name: NumericFigure, measure: () => Promise<number>): Promise<void> {
  try {
    result[name] = await withTimeout(name, FIGURE_TIMEOUT_MS, measure());
  } catch (error) {
    result.errors[name] = errorText(error);
  }
}

/** Sends `calls` fs/getMetadata requests back to back; ms per call, amortised. */
async function pipelined(client: BenchClient, calls: number, params: () => unknown): Promise<number> {
  const start = performance.now();
  const replies = await Promise.all(
    Array.from({ length: calls }, () => client.call("fs/getMetadata", params())),
  );
  const ms = performance.now() - start;
  for (const reply of replies) {
    if (reply["isDirectory"] !== true) {
      throw new Error(`unexpected getMetadata result ${JSON.stringify(reply)}`);
    }
  }
  return ms / calls;
}

/** One fs/readFile of the whole file, decoded and checked; MB/s. */
async function readWholeFile(client: BenchClient, params: unknown, bytes: number): Promise<number> {
  const start = performance.now();
  let reply;
  try {
    reply = await client.call("fs/readFile", params);
  } catch (error) {
    if (error instanceof WireCallError) throw error;
    throw new Error(`fs/readFile of ${bytes} bytes: ${errorText(error)}`);
  }
  const received = Buffer.from(String(reply["dataBase64"]), "base64").byteLength;
  const ms = performance.now() - start;
  if (received !== bytes) throw new Error(`fs/readFile returned ${received} bytes, expected ${bytes}`);
  return megabytesPerSecond(received, ms);
}
