import { access, constants, stat } from "node:fs/promises";
import { hostname, tmpdir, userInfo } from "node:os";
import process from "node:process";
import { CODEX_CAPABILITIES, EXTENSION_METHODS, pathToUri, SIGNAL_NUMBERS } from "../protocol/mod.ts";
import type { EnvironmentInfo, Extensions } from "../protocol/mod.ts";
import type { Runtime } from "../runtime/mod.ts";
import { VERSION } from "../version.ts";
import type { ServerOptions } from "./options.ts";

/** Builds the `EnvironmentInfo` of PROTOCOL.md §3.3 once at start-up. */
export async function buildEnvironmentInfo(
  runtime: Runtime,
  options: ServerOptions,
  services: { sandbox: Extensions["sandbox"]; containment: Extensions["containment"] },
): Promise<EnvironmentInfo> {
  const env = runtime.env();
  const shellPath = await pickShell(env["SHELL"]);
  const home = env["HOME"];
  const info: EnvironmentInfo = {
    shell: { name: shellPath.slice(shellPath.lastIndexOf("/") + 1), path: shellPath },
    executorVersion: VERSION,
    providerId: await providerId(),
    cwd: pathToUri(runtime.cwd()),
    platformOs: process.platform === "darwin" ? "macos" : "linux",
    prependPathDirs: [],
    temporaryDirectories: [],
    tempDir: pathToUri(env["TMPDIR"] || tmpdir()),
    capabilities: { ...CODEX_CAPABILITIES },
    extensions: {
      server: "exec-server",
      version: VERSION,
      runtime: runtime.name,
      methods: [...EXTENSION_METHODS],
      signals: Object.keys(SIGNAL_NUMBERS),
      numericSignals: true,
      processStart: { size: true, timeoutMs: true, limits: true },
      readDroppedBytes: true,
      limits: {
        retainedOutputBytes: options.retainedOutputBytes,
        sessionTtlMs: options.sessionTtlMs,
        processRetentionMs: options.processRetentionMs,
        maxMessageBytes: options.maxMessageBytes,
        maxReplyBytes: options.maxReplyBytes,
        maxReadFileBytes: options.maxReadFileBytes,
        maxFileHandles: 128,
      },
      sandbox: services.sandbox,
      containment: services.containment,
      // A stdio line carries text only.
      binaryFrames: options.listen.kind === "websocket",
    },
  };
  if (home !== undefined && home.startsWith("/")) info.userHomeDir = pathToUri(home);
  return info;
}

async function pickShell(shell: string | undefined): Promise<string> {
  for (const candidate of [shell, "/bin/bash", "/bin/sh"]) {
    if (candidate === undefined || !candidate.startsWith("/")) continue;
    try {
      if (!(await stat(candidate)).isFile()) continue;
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not usable: try the next candidate.
    }
  }
  return "/bin/sh";
}

/** Opaque, stable per host and user: the SHA-256 of both. */
async function providerId(): Promise<string> {
  const identity = new TextEncoder().encode(`exec-server\0${hostname()}\0${userInfo().uid}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", identity));
  return "sha256:" + Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
