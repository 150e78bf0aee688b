import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { FS_PARAMS_SCHEMAS, FsService } from "./fs/mod.ts";
import type { MethodSpec } from "./protocol/mod.ts";
import type { Runtime } from "./runtime/mod.ts";
import {
  createStateDir,
  detectHostFeatures,
  networkOffPolicy,
  prepareProgramImages,
  resolveSandbox,
  sandboxedLaunch,
  sandboxExtensionInfo,
  workerLaunch,
} from "./sandbox/mod.ts";
import type { HostFeatures, LaunchContext, SandboxContext, SandboxResolution } from "./sandbox/mod.ts";
import type { SandboxPlanner } from "./process/mod.ts";
import { startContainment } from "./containment/mod.ts";
import type { Containment } from "./containment/mod.ts";
import { createLogger, UsageError } from "./server/mod.ts";
import type { Logger, ServerOptions, ServerServices } from "./server/mod.ts";

/**
 * Composes containment, the sandbox planner and the fs service for the server. Containment comes
 * first: it removes what a dead predecessor left before anything is served, and takes its place
 * in the cgroup tree before the server starts any child.
 */
export async function createServices(runtime: Runtime, options: ServerOptions): Promise<ServerServices> {
  const log = createLogger((line) => void runtime.writeStderr(line), options.quiet);
  const containment = await openContainment(runtime, options, log);
  const serverEnv = runtime.env();
  const stateDir = await createStateDir(serverEnv);
  const launchEnv = runtime.imageEnv(stateDir);
  const ceiling = Number(serverEnv["EXEC_SERVER_TEST_LANDLOCK_ABI"]);
  const [features, images] = await Promise.all([
    detectHostFeatures(runtime, {
      env: launchEnv,
      ...(Number.isInteger(ceiling) ? { landlockAbiCeiling: ceiling } : {}),
    }),
    prepareProgramImages(runtime, stateDir),
  ]);
  const tokenFile = options.auth?.tokenFile;
  const protection = {
    ownFiles: images.ownFiles,
    secretFiles: tokenFile === null || tokenFile === undefined ? [] : [resolve(tokenFile)],
  };
  const launchContext = (): Promise<LaunchContext> =>
    images.ready.then(({ launcher, worker }) => ({
      launcher,
      worker,
      command: (image, args, fence) => runtime.imageCommand(image, args, fence),
      env: launchEnv,
      userNamespaceHelper: features.userNamespaceHelper,
    }));
  const fs = new FsService(runtime, {
    maxReadFileBytes: options.maxReadFileBytes,
    serverCwd: runtime.cwd(),
    serverEnv,
    hostFeatures: features,
    ...protection,
    workerLaunch: async (policy) => workerLaunch(await launchContext(), policy),
    log: (message, detail) => log.error(message, detail),
  });
  const fsMethods = new Map<string, MethodSpec>();
  for (const [name, params] of Object.entries(FS_PARAMS_SCHEMAS)) {
    fsMethods.set(name, { params, family: "filesystem" });
  }
  return {
    planner: processPlanner({ features, serverEnv, protection, launchContext }),
    sandboxInfo: sandboxExtensionInfo(features),
    containment,
    fsMethods,
    openFsConnection: (sessionId) => fs.openConnection(sessionId),
    closeSession: (sessionId) => fs.closeSession(sessionId),
    close: async () => {
      await fs.close();
      await containment.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Starts containment; a default limit this host cannot enforce is a usage error, never ignored. */
async function openContainment(runtime: Runtime, options: ServerOptions, log: Logger): Promise<Containment> {
  const containment = await startContainment(runtime, {
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

/** Resolves a process's sandbox (§8) into a launcher wrapper, or null to run it directly. */
function processPlanner(deps: {
  features: HostFeatures;
  serverEnv: Readonly<Record<string, string>>;
  protection: Pick<SandboxContext, "ownFiles" | "secretFiles">;
  launchContext: () => Promise<LaunchContext>;
}): SandboxPlanner {
  const { features, serverEnv, protection } = deps;
  return {
    async plan(sandbox, context) {
      let resolution: SandboxResolution = await resolveSandbox(sandbox, {
        cwd: context.cwd,
        env: serverEnv,
        network: context.networkOff ? "forceOff" : "asPolicy",
        ...protection,
      }, features);
      if (resolution.kind === "none" && context.networkOff) {
        resolution = networkOffPolicy(features, protection);
      }
      if (resolution.kind === "none") return null;
      const policy = resolution.policy;
      const launch = await deps.launchContext();
      return (target) => sandboxedLaunch(launch, policy, target);
    },
  };
}
