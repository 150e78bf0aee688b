import type { Runtime } from "../runtime/mod.ts";
import type { RunningServer } from "./exec_server.ts";

/**
 * Serves until SIGTERM or SIGINT: the first shuts the server down (once it has started, if it
 * is still starting), a second exits at once. The handlers are in place before the server
 * starts: Deno sets up its signal thread (a socket pair) at the first listener and panics when
 * that fails, and once the server listens a flood of connections can take every descriptor.
 */
export async function serveUntilSignalled(
  runtime: Pick<Runtime, "onSignal" | "exit">,
  start: () => Promise<RunningServer>,
  announce: (server: RunningServer) => Promise<void>,
): Promise<void> {
  let signals = 0;
  let server: RunningServer | null = null;
  const onSignal = (): void => {
    signals++;
    if (signals > 1) runtime.exit(0);
    void server?.shutdown();
  };
  runtime.onSignal("SIGTERM", onSignal);
  runtime.onSignal("SIGINT", onSignal);
  const started = await start();
  server = started;
  await announce(started);
  if (signals > 0) void started.shutdown();
  await started.finished;
}
