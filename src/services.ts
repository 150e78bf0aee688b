import type { Runtime } from "./runtime/mod.ts";
import type { ServerOptions, ServerServices } from "./server/mod.ts";

/** Composes the sandbox planner and the fs service for the server. */
export async function createServices(runtime: Runtime, options: ServerOptions): Promise<ServerServices> {
  void runtime;
  void options;
  await Promise.resolve();
  return {
    planner: { plan: (sandbox) => Promise.resolve(sandbox === null ? null : null) },
    sandboxInfo: {
      available: false,
      backend: "none",
      layers: {
        userNamespace: false,
        mountNamespace: false,
        seccomp: false,
        landlockAbi: 0,
        noNewPrivs: false,
        bubblewrap: false,
      },
      networkRestriction: false,
      reason: "sandbox not wired yet",
    },
    fsMethods: new Map(),
    openFsConnection: () => ({
      call: () => Promise.reject(new Error("fs not wired")),
      close: () => Promise.resolve(),
    }),
    closeSession: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
