import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { cgroupsLeftAfter } from "./cgroups.ts";
import { TestClient } from "./client.ts";

/** How long a stopped server's cgroups may take to go (see `Symbol.asyncDispose` below). */
const CGROUPS_GONE_WITHIN_MS = 20_000;

/** The runtimes every behavioural test runs against. */
export const RUNTIMES = ["bun", "deno"] as const;
/** One of `RUNTIMES`. */
export type RuntimeName = (typeof RUNTIMES)[number];

const ROOT = join(import.meta.dir, "..", "..");
const BIN = join(ROOT, "node_modules", ".bin");

/** The command that starts the server under `runtime`. */
export function serverCommand(runtime: RuntimeName): string[] {
  return runtime === "bun"
    ? [join(BIN, "bun"), join(ROOT, "mod.ts")]
    : [join(BIN, "deno"), "run", "-A", "--quiet", join(ROOT, "mod.ts")];
}

/**
 * A server subprocess; disposing sends SIGTERM, awaits the exit and fails when the server left a
 * cgroup behind.
 */
export interface TestServer extends AsyncDisposable {
  readonly url: string;
  /** `http://host:port` of the same listener. */
  readonly httpUrl: string;
  readonly child: ChildProcess;
  readonly stderr: () => string;
  /** Opens a WebSocket client (already connected, not initialized). */
  connect(options?: { protocols?: string[]; headers?: Record<string, string> }): Promise<TestClient>;
  /** Opens a client and runs initialize + initialized. */
  session(): Promise<TestClient>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

/** Starts `mod.ts` under `runtime` with a controlled environment; the URL is its first stdout line. */
export async function startServer(
  options: {
    runtime: RuntimeName;
    /** Overrides the command that starts the server (a bundle or a compiled binary). */
    command?: string[];
    args?: string[];
    env?: Record<string, string>;
    /** The server's working directory; the checkout by default. */
    cwd?: string;
    /** Pipes the server inherits beyond stdin, stdout and stderr, as fd 3 and up (not close-on-exec). */
    extraPipes?: number;
  },
): Promise<TestServer> {
  const command = options.command ?? serverCommand(options.runtime);
  const argv = [...command, "--listen", "ws://127.0.0.1:0", "--quiet", ...(options.args ?? [])];
  return await startCommandLine(argv, options);
}

/**
 * What every runtime the tests start gets in its environment: `deno run` otherwise looks for a
 * newer Deno in the background about half a second after it starts (a DNS lookup, a TLS
 * connection, a socket pair it keeps), which on a machine without internet changes nothing but
 * the descriptors a test counts.
 */
export const TEST_RUNTIME_ENV: Readonly<Record<string, string>> = { DENO_NO_UPDATE_CHECK: "1" };

/**
 * Starts a server from a whole command line, flags included (a documented one, say), with a
 * controlled environment; the URL is its first stdout line.
 */
export async function startCommandLine(
  argv: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; extraPipes?: number } = {},
): Promise<TestServer> {
  const [command, ...args] = argv;
  const child = spawn(command ?? "", args, {
    cwd: options.cwd ?? ROOT,
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: process.env["HOME"] ?? "/root",
      ...TEST_RUNTIME_ENV,
      ...options.env,
    },
    stdio: [
      "ignore",
      "pipe",
      "pipe",
      ...Array.from({ length: options.extraPipes ?? 0 }, () => "pipe" as const),
    ],
  });
  let stderr = "";
  child.stderr?.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout?.on("data", (data: Buffer) => {
      stdout += data.toString();
      const newline = stdout.indexOf("\n");
      if (newline !== -1) resolve(stdout.slice(0, newline));
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before its URL: ${stderr}`)));
  });
  return {
    url,
    httpUrl: url.replace(/^ws:/, "http:"),
    child,
    exited,
    stderr: () => stderr,
    connect: (connectOptions) => TestClient.connect(url, connectOptions),
    async session() {
      const client = await TestClient.connect(url);
      await client.initialize();
      return client;
    },
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      // After a SIGKILL the watchdog removes them a moment later; after SIGTERM they are gone. The
      // bound is for a watchdog that never does: on two cores busy with other suites, one took over
      // 5 s to be scheduled, notice and remove them.
      const left = child.pid === undefined ? [] : await cgroupsLeftAfter(child.pid, CGROUPS_GONE_WITHIN_MS);
      if (left.length > 0) throw new Error(`server ${child.pid} left cgroups behind: ${left.join(", ")}`);
    },
  };
}
