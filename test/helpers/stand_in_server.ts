import { beforeAll } from "bun:test";
import type { ServerWebSocket } from "bun";
import { ExecServerClient } from "../../src/client/mod.ts";
import type { EnvironmentInfo } from "../../src/protocol/mod.ts";
import type { TestServer } from "./server.ts";

/** One JSON-RPC message a client sent a stand-in. */
export interface StandInMessage {
  readonly id?: number;
  readonly method: string;
  readonly params?: Record<string, unknown>;
}

/** What a stand-in's handler gets: the socket, the message, and the connection's number (from 1). */
export type StandInHandler = (
  ws: ServerWebSocket<{ connection: number }>,
  message: StandInMessage,
  connection: number,
) => void;

/** A hostile or odd stand-in for an exec-server: it answers only what its handler answers. */
export interface StandInServer extends AsyncDisposable {
  readonly url: string;
  /** Connections upgraded so far. */
  readonly connections: number;
  /** Connections still open (the server's side has not seen them close). */
  readonly open: number;
  /** Resolves once no connection is open. */
  allClosed(): Promise<void>;
}

/**
 * A Bun WebSocket server on 127.0.0.1 that hands every text message to `handler`, for tests of the
 * client against servers that misbehave. `reply` and `welcome` build the usual answers.
 */
export function standInServer(handler: StandInHandler): StandInServer {
  let connections = 0;
  let open = 0;
  let idle: PromiseWithResolvers<void> | null = null;
  const server = Bun.serve<{ connection: number }>({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, bunServer) =>
      bunServer.upgrade(request, { data: { connection: ++connections } })
        ? undefined
        : new Response(null, { status: 400 }),
    websocket: {
      open() {
        open++;
      },
      close() {
        open--;
        if (open === 0) idle?.resolve();
      },
      message(ws, text) {
        handler(ws, JSON.parse(String(text)) as StandInMessage, ws.data.connection);
      },
    },
  });
  return {
    url: `ws://127.0.0.1:${server.port}`,
    get connections() {
      return connections;
    },
    get open() {
      return open;
    },
    allClosed() {
      if (open === 0) return Promise.resolve();
      idle ??= Promise.withResolvers<void>();
      return idle.promise;
    },
    async [Symbol.asyncDispose]() {
      await server.stop(true);
    },
  };
}

/** Sends the result of the request `message`. */
export function reply(ws: ServerWebSocket<unknown>, message: StandInMessage, result: unknown): void {
  ws.send(JSON.stringify({ id: message.id, result }));
}

/** Answers `initialize` with `sessionId` and a real server's `environmentInfo`. */
export function welcome(
  ws: ServerWebSocket<unknown>,
  message: StandInMessage,
  sessionId: string,
  environmentInfo: EnvironmentInfo,
): void {
  reply(ws, message, { sessionId, environmentInfo });
}

/**
 * The `environmentInfo` that `server` (a real one) answers, read once before the describe's cases,
 * for stand-ins to `welcome` clients with.
 */
export function realEnvironmentInfo(server: () => TestServer): () => EnvironmentInfo {
  let environmentInfo: EnvironmentInfo | null = null;
  beforeAll(async () => {
    await using probe = await ExecServerClient.connect(server().url);
    environmentInfo = probe.environmentInfo;
  });
  return () => {
    if (environmentInfo === null) throw new Error("no environmentInfo yet");
    return environmentInfo;
  };
}
