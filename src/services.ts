import { FsService } from "./fs/mod.ts";
import type { Runtime } from "./runtime/mod.ts";
import { detectHostFeatures, processPlanner, sandboxExtensionInfo } from "./sandbox/mod.ts";
import { createLogger } from "./server/mod.ts";
import type { ServerOptions, ServerServices } from "./server/mod.ts";

/** Composes the sandbox planner and the fs service for the server. */
export async function createServices(runtime: Runtime, options: ServerOptions): Promise<ServerServices> {
  const features = await detectHostFeatures(runtime);
  const serverEnv = runtime.env();
  const log = createLogger((line) => void runtime.writeStderr(line), options.quiet);
  const fs = new FsService(runtime, {
    maxReadFileBytes: options.maxReadFileBytes,
    serverCwd: runtime.cwd(),
    serverEnv,
    hostFeatures: features,
    log: (message, detail) => log.error(message, detail),
  });
  return {
    planner: processPlanner(runtime.selfCommand(), features, serverEnv),
    sandboxInfo: sandboxExtensionInfo(features),
    openFsConnection: (sessionId) => fs.openConnection(sessionId),
    closeSession: (sessionId) => fs.closeSession(sessionId),
    close: () => fs.close(),
  };
}
