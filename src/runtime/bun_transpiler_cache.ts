/**
 * Where Bun keeps its transpiler cache for a process with `env` in `cwd`, on Linux: the output of
 * every file it transpiled, which its next run of the file takes instead. Each entry is checked
 * only against hashes any process can compute (Wyhash with Bun's fixed seed), so whoever writes the
 * directory decides what the next run of a cached file runs. `$BUN_RUNTIME_TRANSPILER_CACHE_PATH`
 * (empty or `0`: no cache, null), else `$XDG_CACHE_HOME/bun/@t@`, else `$HOME/.bun/install/cache/@t@`,
 * else `bun/@t@` in the temporary directory.
 */
import { join, resolve } from "node:path";

export function bunTranspilerCache(env: Readonly<Record<string, string>>, cwd: string): string | null {
  const given = env["BUN_RUNTIME_TRANSPILER_CACHE_PATH"];
  if (given !== undefined) return given === "" || given === "0" ? null : resolve(cwd, given);
  const xdg = env["XDG_CACHE_HOME"];
  if (xdg !== undefined && xdg !== "") return resolve(cwd, xdg, "bun", "@t@");
  const home = env["HOME"];
  if (home !== undefined && home !== "") return resolve(cwd, home, ".bun", "install", "cache", "@t@");
  return join(resolve(cwd, env["TMPDIR"] || "/tmp"), "bun", "@t@");
}
