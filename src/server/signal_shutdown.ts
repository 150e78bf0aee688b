import type { Runtime } from "../runtime/mod.ts";
import type { RunningServer } from "./exec_server.ts";

/**
 * Serves until SIGTERM or SIGINT, and answers the exit code: 1 when the server could not announce
 * where it listens, which shuts it down. The first signal shuts the server down, or, while it is
 * still starting, exits at once: a start-up step may wait without end (a token file that is a FIFO,
 * a probe child that is stopped, a host under heavy load), and nothing is served yet. What start-up
 * has made goes with the exit: `start`'s abort signal fires first, which kills a running probe's
 * process group, the watchdog and a spare launcher read end of file and clean up, and the next
 * server removes a dead one's state directory. A second signal exits at once. The handlers
 * are in place before the server starts: Deno sets up its signal thread (a socket pair) at the first
 * listener and panics when that fails, and once the server listens a flood of connections can take
 * every descriptor.
 */
export async function serveUntilSignalled(
  runtime: Pick<Runtime, "onSignal" | "exit">,
  start: (abort: AbortSignal) => Promise<RunningServer>,
  announce: (server: RunningServer) => Promise<void>,
): Promise<number> {
  let signals = 0;
  let server: RunningServer | null = null;
  const starting = new AbortController();
  const onSignal = (): void => {
    signals++;
    if (server === null) starting.abort();
    if (signals > 1 || server === null) runtime.exit(0);
    void server.shutdown();
  };
  runtime.onSignal("SIGTERM", onSignal);
  runtime.onSignal("SIGINT", onSignal);
  const started = await start(starting.signal);
  server = started;
  try {
    await announce(started);
  } catch {
    // `announce` said why. No client can learn the URL, so the server goes, with its children,
    // rather than hold its port until someone kills it; the exit code tells a supervisor.
    await started.shutdown();
    return 1;
  }
  await started.finished;
  return 0;
}
