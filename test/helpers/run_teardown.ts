/**
 * Preloaded into every `bun test` run (bunfig.toml): after the last test file, stops the servers
 * that files shared (`runServer`).
 */
import { afterAll } from "bun:test";
import { stopRunServers } from "./run_servers.ts";

afterAll(async () => {
  await stopRunServers();
}, 30_000);
