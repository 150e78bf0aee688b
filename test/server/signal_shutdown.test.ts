import { describe, expect, test } from "bun:test";
import { serveUntilSignalled } from "../../src/server/signal_shutdown.ts";
import type { RunningServer } from "../../src/server/mod.ts";

class Exited extends Error {}

/**
 * A runtime that records what is asked of it, a server whose start and end the case controls;
 * `announceFails` makes the URL's announcement fail, as a closed stdout does.
 */
function harness(announceFails = false) {
  const events: string[] = [];
  const handlers: Array<() => void> = [];
  const started = Promise.withResolvers<void>();
  const announced = Promise.withResolvers<void>();
  const finished = Promise.withResolvers<void>();
  const server: RunningServer = {
    url: "ws://127.0.0.1:1",
    finished: finished.promise,
    shutdown: () => {
      events.push("shutdown");
      finished.resolve();
      return finished.promise;
    },
  };
  const runtime = {
    onSignal: (name: string, handler: () => void) => {
      events.push(`listen ${name}`);
      handlers.push(handler);
    },
    exit: (code: number): never => {
      events.push(`exit ${code}`);
      throw new Exited();
    },
  };
  const run = serveUntilSignalled(
    runtime,
    async () => {
      events.push("start");
      await started.promise;
      return server;
    },
    (running) => {
      events.push(`announce ${running.url}`);
      announced.resolve();
      return announceFails ? Promise.reject(new Error("EPIPE")) : Promise.resolve();
    },
  );
  const signal = () => handlers[0]?.();
  return { events, signal, start: () => started.resolve(), announced: announced.promise, run };
}

describe("serveUntilSignalled", () => {
  test("takes SIGTERM and SIGINT before the server starts, so no flood of clients meets it without them", async () => {
    // Deno sets up its signal thread (a socket pair) at the first listener and panics when that
    // fails: after the URL, a flood of connections could already have taken every descriptor.
    const { events, signal, start, announced, run } = harness();
    start();
    await announced;
    expect(events).toEqual(["listen SIGTERM", "listen SIGINT", "start", "announce ws://127.0.0.1:1"]);
    signal();
    await run;
    expect(events.at(-1)).toBe("shutdown");
  });

  test("a signal while the server starts exits at once, without waiting for the start", () => {
    const { events, signal } = harness();
    // The handlers and the start are in place as soon as serving begins, before any await.
    expect(() => signal()).toThrow(Exited);
    expect(events).toEqual(["listen SIGTERM", "listen SIGINT", "start", "exit 0"]);
  });

  test("a second signal exits at once", async () => {
    const { events, signal, start, announced } = harness();
    start();
    await announced;
    signal();
    expect(() => signal()).toThrow(Exited);
    expect(events.slice(-2)).toEqual(["shutdown", "exit 0"]);
  });

  test("a server that cannot announce its URL shuts down and answers 1", async () => {
    const { events, start, run } = harness(true);
    start();
    expect(await run).toBe(1);
    expect(events.slice(-2)).toEqual(["announce ws://127.0.0.1:1", "shutdown"]);
  });

  test("a server that finishes answers 0", async () => {
    const { start, announced, run, signal } = harness();
    start();
    await announced;
    signal();
    expect(await run).toBe(0);
  });
});
