import { FsService, removeTree } from "./fs/mod.ts";
import process from "node:process";
import { openFileRanges, openRootMountStat } from "./runtime/mod.ts";
import type { ProgramImage, Runtime } from "./runtime/mod.ts";
import { createStateDir, sandboxExtensionInfo, setUpSandbox } from "./sandbox/mod.ts";
import { startContainment } from "./containment/mod.ts";
import type { Containment } from "./containment/mod.ts";
import { createLogger, UsageError } from "./server/mod.ts";
import type { Logger, ServerOptions, ServerServices } from "./server/mod.ts";

/**
 * Composes containment, the sandbox planner and the fs service for the server. The private state
 * directory comes first (containment keeps its join helper there where it cannot keep it in a
 * sealed memfd, and every sandbox sees it read-only); then containment: it removes what a dead
 * predecessor left before anything is served, and takes its place in the cgroup tree before the
 * server starts any child.
 */
export async function createServices(
  runtime: Runtime,
  options: ServerOptions,
  self?: ProgramImage,
  abort?: AbortSignal,
): Promise<ServerServices> {
  const log = createLogger((line) => void runtime.writeStderr(line), options.quiet);
  const stateDir = await createStateDir(runtime.env(), removeTree);
  const containment = await openContainment(runtime, options, { log, stateDir, abort });
  const tokenFile = options.auth?.tokenFile;
  const sandbox = await setUpSandbox(runtime, {
    ...(self === undefined ? {} : { self }),
    secretFiles: tokenFile === null || tokenFile === undefined ? [] : [tokenFile],
    stateDir,
    ...(options.startStepLimitMs === undefined ? {} : { probeLimitMs: options.startStepLimitMs }),
    onTimeout: (message) => log.error(message, { step: "sandbox probe" }),
    ...(abort === undefined ? {} : { abort }),
  });
  const rootMountStat = await openRootMountStat(runtime.name, process.arch);
  const fs = new FsService(runtime, {
    maxReadFileBytes: options.maxReadFileBytes,
    maxReplyBytes: options.maxReplyBytes,
    serverCwd: runtime.cwd(),
    serverEnv: runtime.env(),
    hostFeatures: sandbox.features,
    ...sandbox.protection,
    workerLaunch: (policy) => sandbox.workerLaunch(policy),
    spareLauncher: options.spareLauncher,
    rootMountStat,
    fileRanges: await openFileRanges(runtime.name, process.arch),
    log: (message, detail) => log.error(message, detail),
  });
  return {
    planner: sandbox.planner,
    sandboxInfo: sandboxExtensionInfo(sandbox.features),
    containment,
    rootMountStat,
    openFsConnection: (sessionId) => fs.openConnection(sessionId),
    closeSession: (sessionId) => fs.closeSession(sessionId),
    close: async () => {
      await fs.close();
      await containment.close();
      await sandbox.close();
    },
  };
}

/** Starts containment; a default limit this host cannot enforce is a usage error, never ignored. */
async function openContainment(
  runtime: Runtime,
  options: ServerOptions,
  { log, stateDir, abort }: { log: Logger; stateDir: string; abort: AbortSignal | undefined },
): Promise<Containment> {
  const containment = await startContainment(runtime, {
    stateDir,
    ...(options.startStepLimitMs === undefined ? {} : { stepLimitMs: options.startStepLimitMs }),
    ...(abort === undefined ? {} : { abort }),
    defaults: options.defaultLimits,
    onError: (message, error) => log.error(message, error),
    onInfo: (message, fields) => log.info(message, fields),
  });
  const { info } = containment;
  for (const [name, flag] of LIMIT_FLAGS) {
    if (options.defaultLimits[name] !== null && !info.limits[name]) {
      await containment.close();
      throw new UsageError(`${flag}: this host cannot enforce it (${info.reason ?? "no cgroup controller"})`);
    }
  }
  return containment;
}

const LIMIT_FLAGS = [
  ["memoryBytes", "--default-memory-bytes"],
  ["pids", "--default-pids"],
  ["cpuSeconds", "--default-cpu-seconds"],
] as const;
