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
import { createLogger } from "./server/mod.ts";
import type { ServerOptions, ServerServices } from "./server/mod.ts";

/** Composes the sandbox planner and the fs service for the server. */
export async function createServices(runtime: Runtime, options: ServerOptions): Promise<ServerServices> {
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
  const log = createLogger((line) => void runtime.writeStderr(line), options.quiet);
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
    fsMethods,
    openFsConnection: (sessionId) => fs.openConnection(sessionId),
    closeSession: (sessionId) => fs.closeSession(sessionId),
    close: async () => {
      await fs.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

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
