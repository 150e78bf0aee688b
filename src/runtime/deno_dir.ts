/**
 * Where `deno` keeps its caches (DENO_DIR) for a process with `env` in `cwd`, as `deno info`
 * reports it on Linux: `$DENO_DIR` (a relative one from the working directory), else
 * `$XDG_CACHE_HOME/deno`, else `$HOME/.cache/deno`; null without any of them.
 */
import { isAbsolute, join, resolve } from "node:path";

export function denoDir(env: Readonly<Record<string, string>>, cwd: string): string | null {
  const given = env["DENO_DIR"];
  if (given !== undefined && given !== "") return resolve(cwd, given);
  const xdg = env["XDG_CACHE_HOME"];
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, "deno");
  const home = env["HOME"];
  return home !== undefined && home !== "" ? join(home, ".cache", "deno") : null;
}

/**
 * Where `deno run` keeps the JavaScript it emitted for the TypeScript modules under `sourceRoot`
 * (`gen/file` and the modules' paths, in `dir`).
 */
export function emitCacheOf(dir: string, sourceRoot: string): string {
  return join(dir, "gen", "file", sourceRoot).replace(/(.)\/+$/, "$1");
}

/**
 * The files of V8's code cache in `dir`: an SQLite database in WAL mode, with its log and its
 * index of the log. A row of the log takes the place of the database's own on the next read, so
 * the log is the cache as much as the database is; a running `deno` holds all three open, so none
 * of them is removed and made again while it runs.
 */
export function codeCacheOf(dir: string): string[] {
  const database = join(dir, "v8_code_cache_v2");
  return [database, `${database}-wal`, `${database}-shm`];
}
