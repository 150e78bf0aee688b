/**
 * Preloaded into every `bun test` process (bunfig.toml): once its test files are done (in a
 * parallel worker: after each file), stops the servers they shared (`runServer`).
 */
import { afterAll } from "bun:test";
import { stopRunServers } from "./run_servers.ts";

afterAll(async () => {
  await stopRunServers();
}, 30_000);
