/**
 * What the sandbox launcher needs of its own process: arguments, environment, stderr, exit and
 * two file lookups. Under Deno these come from its own API, because Node's compatibility layer
 * (`node:process`, `node:fs`) costs every launch about 40 ms of start-up, and every sandboxed
 * process and fs worker starts through the launcher.
 */
import type { RuntimeName } from "./runtime.ts";

/** A path's type as `lstat` sees it; throws when the path does not exist or cannot be read. */
export interface LinkStat {
  readonly directory: boolean;
  readonly symlink: boolean;
  /** Its device and inode (`dev:ino`): what it is, whatever path it is reached by. */
  readonly identity: string;
}

export interface LauncherProcess {
  /** The arguments after the script (`sandbox-exec …`). */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The CPU architecture in Node's naming (`x64`, `arm64`), as `libcArch` takes it. */
  readonly arch: string;
  readonly pid: number;
  /** Writes synchronously: an exit right after loses nothing. */
  writeStderr(text: string): void;
  exit(status: number): never;
  lstat(path: string): LinkStat;
  readlink(path: string): string;
  /** The names in a directory. */
  readDir(path: string): string[];
  /** A whole (small, pseudo) file's text, read on the calling thread, as `/proc` shows it to that thread. */
  readText(path: string): string;
  /** Its own `/proc/self/stat`, or null where /proc cannot be read. */
  readStat(): string | null;
}

/** The Deno implementation, hidden from `tsc` (which has no Deno types); bundlers fold the name. */
async function importDenoLauncherProcess(): Promise<unknown> {
  return await import("./deno_launcher_process" + ".ts");
}

/** The launcher's process under `name`; Bun's Node modules are native and cost nothing to load. */
export async function launcherProcess(name: RuntimeName): Promise<LauncherProcess> {
  if (name === "deno") {
    const adapter = await importDenoLauncherProcess();
    if (typeof adapter === "object" && adapter !== null && "denoLauncherProcess" in adapter) {
      const create = adapter.denoLauncherProcess;
      // deno_launcher_process.ts declares `denoLauncherProcess(): LauncherProcess`; `deno check` verifies it.
      if (typeof create === "function") return (create as () => LauncherProcess)();
    }
    throw new TypeError("deno_launcher_process.ts does not export denoLauncherProcess");
  }
  // Taken synchronously, as a static import would be: nothing else runs before the launcher confines.
  const process = globalThis.process;
  const { lstatSync, readdirSync, readFileSync, readlinkSync, writeSync } = require(
    "node:fs",
  ) as typeof import("node:fs");
  return {
    args: process.argv.slice(2),
    env: Object.fromEntries(
      Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ),
    arch: process.arch,
    pid: process.pid,
    writeStderr: (text) => writeAll((bytes) => writeSync(2, bytes), text),
    exit: (status) => process.exit(status),
    lstat: (path) => {
      const info = lstatSync(path, { bigint: true });
      return {
        directory: info.isDirectory(),
        symlink: info.isSymbolicLink(),
        identity: `${info.dev}:${info.ino}`,
      };
    },
    readlink: (path) => readlinkSync(path, "utf8"),
    readDir: (path) => readdirSync(path, "utf8"),
    readText: (path) => readFileSync(path, "utf8"),
    readStat: () => {
      try {
        return readFileSync("/proc/self/stat", "latin1");
      } catch {
        return null;
      }
    },
  };
}

/** Writes `text` whole through `write`, which may take part of it. */
export function writeAll(write: (bytes: Uint8Array) => number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let offset = 0; offset < bytes.length;) {
    const written = write(bytes.subarray(offset));
    if (written <= 0) return;
    offset += written;
  }
}
