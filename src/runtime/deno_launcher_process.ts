/**
 * `LauncherProcess` over Deno's own API: no Node compatibility layer is loaded.
 */
import { type LauncherProcess, writeAll } from "./launcher_process.ts";

const NODE_ARCH: Record<string, string> = { x86_64: "x64", aarch64: "arm64" };

export function denoLauncherProcess(): LauncherProcess {
  return {
    args: [...Deno.args],
    env: Deno.env.toObject(),
    arch: NODE_ARCH[Deno.build.arch] ?? Deno.build.arch,
    pid: Deno.pid,
    writeStderr: (text) => writeAll((bytes) => Deno.stderr.writeSync(bytes), text),
    exit: (status) => Deno.exit(status),
    lstat: (path) => {
      const info = Deno.lstatSync(path);
      return { directory: info.isDirectory, symlink: info.isSymlink, identity: `${info.dev}:${info.ino}` };
    },
    readlink: (path) => Deno.readLinkSync(path),
    readDir: (path) => [...Deno.readDirSync(path)].map((entry) => entry.name),
    readText: (path) => Deno.readTextFileSync(path),
    readStat: () => {
      try {
        return Deno.readTextFileSync("/proc/self/stat");
      } catch {
        return null;
      }
    },
  };
}
