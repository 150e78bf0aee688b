/** Starts the exec-server under one runtime as a subprocess of the bench (loopback, port 0). */
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { dirname, join } from "node:path";

/** The runtimes the bench compares. */
export const RUNTIMES = ["bun", "deno"] as const;
/** One of `RUNTIMES`. */
export type RuntimeName = (typeof RUNTIMES)[number];

/** The repository root (bench/..). */
export const ROOT = join(import.meta.dir, "..");
const BIN = join(ROOT, "node_modules", ".bin");

/** argv that runs `script` (and its arguments) under `runtime`. */
export function runtimeCommand(runtime: RuntimeName, script: string, args: readonly string[] = []): string[] {
  return runtime === "bun"
    ? [join(BIN, "bun"), script, ...args]
    : [join(BIN, "deno"), "run", "-A", "--quiet", script, ...args];
}

/** A running server; `stop` sends SIGTERM and awaits the exit (SIGKILL after 5 s). */
export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** Resident set size from /proc, or null where /proc is not readable. */
  rssBytes(): Promise<number | null>;
  /** User + system CPU time consumed so far, from /proc, or null. */
  cpuMs(): Promise<number | null>;
  /** User + system CPU time of the server's children it has reaped so far, from /proc, or null. */
  childrenCpuMs(): Promise<number | null>;
  readonly stderr: () => string;
  stop(): Promise<void>;
}

/** Starts `mod.ts` under `runtime` and resolves with the URL from its first stdout line. */
export function startServer(runtime: RuntimeName): Promise<ServerProcess> {
  return startCommand(
    runtimeCommand(runtime, join(ROOT, "mod.ts"), ["--listen", "ws://127.0.0.1:0", "--quiet"]),
  );
}

/** Starts the reference `codex exec-server` (a native binary) on loopback, port 0. */
export function startReference(binary: string): Promise<ServerProcess> {
  return startCommand([binary, "exec-server", "--listen", "ws://127.0.0.1:0"]);
}

/** Where an npm install of @openai/codex is usually found (`npm i @openai/codex@0.169.0`). */
export const DEFAULT_REFERENCE_DIR = "/tmp/codexref";

/**
 * The native codex binary for `path`: an npm install directory, the `codex` / `codex.js` wrapper
 * (which runs the binary in a child, so its pid would not be the server's), or the binary itself.
 */
export async function resolveReference(path: string): Promise<string> {
  const real = await realpath(path);
  let searchFrom: string | null = null;
  if ((await stat(real)).isDirectory()) searchFrom = join(real, "node_modules", "@openai");
  else if (real.endsWith(".js")) searchFrom = join(dirname(real), "..", "..");
  if (searchFrom === null) return real;
  for (const name of await readdir(searchFrom)) {
    if (!name.startsWith("codex-linux-")) continue;
    const vendor = join(searchFrom, name, "vendor");
    for (const triple of await readdir(vendor)) {
      const binary = join(vendor, triple, "bin", "codex");
      if (await stat(binary).then((s) => s.isFile(), () => false)) return binary;
    }
  }
  throw new Error(`no codex-linux-*/vendor/*/bin/codex under ${searchFrom}`);
}

/** Starts `argv` and resolves once it prints a `ws://` URL as its first stdout line. */
export async function startCommand(argv: string[]): Promise<ServerProcess> {
  const child = Bun.spawn(
    argv,
    {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/root" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  let stderr = "";
  void (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (stderr.length < 65536) stderr += chunk;
    }
  })();
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await child.exited;
    clearTimeout(timer);
  };
  let stdout = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    for (;;) {
      const newline = stdout.indexOf("\n");
      if (newline !== -1) {
        const url = stdout.slice(0, newline);
        if (!url.startsWith("ws://")) throw new Error(`unexpected first stdout line: ${url}`);
        return {
          url,
          pid: child.pid,
          rssBytes: () => rssOf(child.pid),
          cpuMs: () => cpuOf(child.pid, 11),
          childrenCpuMs: () => cpuOf(child.pid, 13),
          stderr: () => stderr,
          stop,
        };
      }
      const { done, value } = await reader.read();
      if (done) {
        await child.exited;
        throw new Error(
          `server exited with ${child.exitCode ?? child.signalCode} before its URL: ${stderr.trim()}`,
        );
      }
      stdout += value;
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

async function rssOf(pid: number): Promise<number | null> {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, "utf8"));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** Clock ticks are 100 per second on Linux (sysconf(_SC_CLK_TCK)). */
const MS_PER_TICK = 10;

/**
 * Two adjacent CPU fields of /proc/PID/stat from `index` on, counted after the command name:
 * 11 is utime and stime (fields 14 and 15), 13 cutime and cstime (the reaped children's, 16 and 17).
 */
async function cpuOf(pid: number, index: 11 | 13): Promise<number | null> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name: state is field 3.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[index]) + Number(fields[index + 1])) * MS_PER_TICK;
  } catch {
    return null;
  }
}
