import { readFile } from "node:fs/promises";
import { METHODS } from "../protocol/mod.ts";
import type { Extensions } from "../protocol/mod.ts";
import {
  CLOSED_LOGS_KEPT,
  ClosedOutput,
  InputBudget,
  LIVE_LOGS_KEPT,
  LiveOutput,
  MIN_WRITE_IDS_KEPT,
  RunningCounter,
  SpawnTurns,
  waitingPollsBound,
} from "../process/mod.ts";
import type { SandboxPlanner } from "../process/mod.ts";
import type { Containment } from "../containment/mod.ts";
import { bindHandlers } from "../rpc/mod.ts";
import type { HttpServer, RootMountStat, Runtime, WsConnection } from "../runtime/mod.ts";
import { createApp } from "./app.ts";
import { ConnectionSlots } from "./connection_slots.ts";
import { TokenAuth } from "./auth.ts";
import type { Connection } from "./connection.ts";
import { buildEnvironmentInfo } from "./environment_info.ts";
import { SERVER_HANDLERS } from "./handlers.ts";
import { createLogger } from "./logger.ts";
import { withMessageLimit } from "./message_limit.ts";
import { Metrics } from "./metrics.ts";
import type { ServerOptions } from "./options.ts";
import { isLoopback, UsageError } from "./options.ts";
import { loopbackHostCheck } from "./host_check.ts";
import { serveLocalhost } from "./localhost_listen.ts";
import { refuseLocalPeer } from "./peer_rule.ts";
import { IdleHttpSweep } from "./idle_http_sweep.ts";
import { SockDiag } from "./sock_diag.ts";
import { openLibc } from "../runtime/mod.ts";
import process from "node:process";
import { userInfo } from "node:os";
import type { FsPort, ServerContext } from "./server_context.ts";
import { SessionRegistry } from "./session_registry.ts";
import { OutboundBudget } from "./outbound_budget.ts";
import { ReplyGate } from "./reply_gate.ts";
import { serveStdio } from "./stdio_transport.ts";
import { QuietRelease } from "./quiet_release.ts";
import { BACKLOG_LOW_BYTES } from "./session.ts";

/** How long shutdown waits for killed processes before exiting anyway (§1.8 allows 5 s). */
const SHUTDOWN_WAIT_MS = 3_000;
/**
 * How long shutdown waits, from the signal, for the listener to stop (§1.8 promises 5 s). Deno's
 * `shutdown()` waits for every HTTP request to finish, and a peer decides when a request whose body
 * has not all come finishes: the server was still up 40 s after SIGTERM.
 */
const SHUTDOWN_DEADLINE_MS = 4_500;

/** The pluggable services the server composes (fs and sandbox live in their own folders). */
export interface ServerServices {
  readonly planner: SandboxPlanner;
  readonly sandboxInfo: Extensions["sandbox"];
  /** Holds, limits and measures every process; closed after the sessions at shutdown. */
  readonly containment: Containment;
  /** The synchronous stat of root-mount paths (`openRootMountStat`), for the program lookup. */
  readonly rootMountStat?: RootMountStat | null;
  openFsConnection(sessionId: string): FsPort;
  closeSession(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

/** A started server. */
export interface RunningServer {
  /** `ws://host:port`, or `stdio`. */
  readonly url: string;
  /** Resolves when the server has finished (stdio end of input, or shutdown). */
  readonly finished: Promise<void>;
  /** Stops accepting, kills every process group, closes connections (§1.8). */
  shutdown(): Promise<void>;
}

/**
 * Starts the server described by `options`; `auth` is what `loadAuth(options)` gave (the CLI
 * reads the token before it starts any service, so a bad token file is refused first).
 */
export async function startExecServer(
  runtime: Runtime,
  requested: ServerOptions,
  services: ServerServices,
  auth: TokenAuth | null,
): Promise<RunningServer> {
  const log = createLogger((line) => void runtime.writeStderr(line), requested.quiet);
  const { options, lowered } = withMessageLimit(requested, runtime.webSocketMessageLimit);
  if (lowered !== null) {
    log.info("largest message lowered to the runtime's WebSocket limit", {
      requested: lowered,
      maxMessageBytes: options.maxMessageBytes,
    });
  }
  const serverCounter = new RunningCounter(options.maxProcesses);
  const closedOutput = new ClosedOutput(CLOSED_LOGS_KEPT * options.retainedOutputBytes);
  const liveOutput = new LiveOutput(LIVE_LOGS_KEPT * options.retainedOutputBytes);
  const registry = new SessionRegistry(runtime, {
    options: {
      sessionTtlMs: options.sessionTtlMs,
      maxSessions: options.maxSessions,
      processes: {
        retainedOutputBytes: options.retainedOutputBytes,
        processRetentionMs: options.processRetentionMs,
        killGraceMs: options.killGraceMs,
        maxProcessesPerSession: options.maxProcessesPerSession,
        writeIdsKept: Math.max(MIN_WRITE_IDS_KEPT, options.maxInflightRequests),
        serverCounter,
        inputBudget: new InputBudget(options.maxUnreadInputBytes),
        waitingPolls: waitingPollsBound(options.maxWaitingPolls),
        closedOutput,
        liveOutput,
        rootMountStat: services.rootMountStat ?? null,
        spawnTurns: new SpawnTurns(),
      },
    },
    planner: services.planner,
    serverEnv: runtime.env(),
    containment: services.containment,
    onExpire: (session) => {
      log.info("session expired", { sessionId: session.id });
      void services.closeSession(session.id).catch((error: unknown) =>
        log.error("closing session failed", error)
      );
    },
  });
  const outbound = new OutboundBudget(options.maxOutboundBytes);
  const replyGate = new ReplyGate();
  const slots = new ConnectionSlots(options.maxConnections);
  const metrics = new Metrics(() => ({
    sessions: registry.size,
    connections: slots.taken,
    processes_running: serverCounter.count,
    retained_output_bytes: liveOutput.total + closedOutput.total,
    outbound_backlog_bytes: outbound.total(),
    requests_held: outbound.held() + replyGate.waiting,
    output_paused_sessions: registry.all().filter((session) => session.outputPaused).length,
  }));
  const context: ServerContext = {
    registry,
    routes: bindHandlers(METHODS, SERVER_HANDLERS),
    environmentInfo: await buildEnvironmentInfo(runtime, options, {
      sandbox: services.sandboxInfo,
      containment: services.containment.info,
    }),
    options: {
      maxInflightRequests: options.maxInflightRequests,
      maxMessageBytes: options.maxMessageBytes,
      maxReplyBytes: options.maxReplyBytes,
    },
    log,
    countReply: (code) => metrics.countReply(code),
    openFsConnection: (sessionId) => services.openFsConnection(sessionId),
    outbound,
    replyGate,
    countCutOff: () => metrics.connectionsCutOff++,
    // At a quiet moment there is no burst for the once-a-second throttle to protect (pages given
    // back and faulted in again at once), so this release runs at once; not while a reply is still
    // leaving, though.
    traffic: new QuietRelease(
      () => {
        runtime.releaseMemory();
        runtime.releaseDeferredMemory();
      },
      undefined,
      undefined,
      () => outbound.total() >= BACKLOG_LOW_BYTES,
    ),
    releaseMemory: () => runtime.releaseMemory(),
    releaseAfterSending: runtime.releaseAfterSending,
    releaseDeferredMemory: () => runtime.releaseDeferredMemory(),
  };
  const finished = Promise.withResolvers<void>();
  let accepting = true;
  let http: HttpServer | null = null;
  const connections = new Set<{ connection: Connection; ws: WsConnection }>();
  let sweep: IdleHttpSweep | null = null;

  let shuttingDown: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      const deadline = performance.now() + SHUTDOWN_DEADLINE_MS;
      const byDeadline = async (work: Promise<unknown>): Promise<void> => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise((resolve) => timer = setTimeout(resolve, deadline - performance.now()));
        await Promise.race([work, late]);
        clearTimeout(timer);
      };
      accepting = false;
      const sessions = registry.all();
      for (const session of sessions) {
        session.cancelDetachTimer();
        session.processes.terminateAll();
      }
      await Promise.race([
        Promise.all(sessions.map((session) => session.processes.drained())),
        new Promise((resolve) => setTimeout(resolve, SHUTDOWN_WAIT_MS)),
      ]);
      // Not cut short: it removes the cgroups, which a server gone before them would leave behind.
      await services.close().catch((error: unknown) => log.error("stopping services failed", error));
      for (const { ws } of connections) ws.close(1001, "server shutting down");
      sweep?.stop();
      await byDeadline(http?.stop(true) ?? Promise.resolve());
      finished.resolve();
    })();
    return shuttingDown;
  };

  if (options.listen.kind === "stdio") {
    void serveStdio(runtime, context, options.maxMessageBytes).then(shutdown, (error: unknown) => {
      log.error("stdio transport failed", error);
      return shutdown();
    });
    return { url: "stdio", finished: finished.promise, shutdown };
  }

  let listeningPort = 0;
  // Once: userInfo() reads the user database, which costs a descriptor a flood of connections may
  // have used up.
  const ownUid = userInfo().uid;
  // Without FFI (a Deno run without --allow-ffi) the peer rule scans /proc/net/tcp instead, and
  // idle HTTP connections are left to the runtime.
  const libc = await openLibc(runtime.name, process.arch).catch(() => null);
  const diag = libc === null ? null : new SockDiag(libc);
  sweep = libc === null || options.httpIdleMs === 0 ? null : new IdleHttpSweep({
    libc,
    idleMs: options.httpIdleMs,
    listeningPort: () => listeningPort,
    webSocketPorts: () => {
      const ports = new Set<number>();
      for (const { connection, ws } of connections) {
        // One the server has closed is left to the sweep: a peer that never answers the Close
        // keeps a Deno WebSocket open otherwise (Deno has no abort).
        if (!connection.isClosed) ports.add(Number(ws.remote.slice(ws.remote.lastIndexOf(":") + 1)));
      }
      return ports;
    },
  });
  const listenHost = options.listen.hostname;
  const app = createApp({
    context,
    refusePeer: (peer) =>
      refuseLocalPeer(peer, {
        serverPort: listeningPort,
        ownUid,
        admitOtherUsers: auth !== null || options.allowLocalUsers,
        tokenRequired: auth !== null,
        diag,
        listenHost,
      }),
    allowOrigins: options.allowOrigins,
    hostAllowed: isLoopback(options.listen.hostname) ? loopbackHostCheck(options.allowHosts) : null,
    auth,
    metrics,
    accepting: () => accepting,
    connections,
    handshakeMs: options.httpIdleMs,
    slots,
  });
  const serve = (hostname: string, port: number): Promise<HttpServer> =>
    runtime.serve({
      hostname,
      port,
      maxMessageBytes: options.maxMessageBytes,
      idleTimeoutSeconds: 30,
      fetch: async (request, upgrade, peer) => {
        const tracked = peer === null ? null : sweep;
        tracked?.requestBegan(peer?.port ?? 0);
        try {
          return await app.fetch(request, { upgrade, peer });
        } finally {
          tracked?.requestEnded(peer?.port ?? 0);
        }
      },
    });
  http = listenHost === "localhost"
    ? await serveLocalhost(serve, options.listen.port)
    : await serve(listenHost, options.listen.port);
  listeningPort = http.port;
  sweep?.start();
  const host = http.hostname.includes(":") ? `[${http.hostname}]` : http.hostname;
  return { url: `ws://${host}:${http.port}`, finished: finished.promise, shutdown };
}

/** The token check of `--ws-auth capability-token`; an unreadable or empty token file is a usage error. */
export async function loadAuth(options: ServerOptions): Promise<TokenAuth | null> {
  if (options.auth === null) return null;
  if (options.auth.tokenSha256 !== null) return new TokenAuth(options.auth.tokenSha256);
  const path = options.auth.tokenFile ?? "";
  let token: string;
  try {
    token = (await readFile(path, "utf8")).trimEnd();
  } catch (error) {
    throw new UsageError(
      `--ws-token-file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (token === "") throw new UsageError(`--ws-token-file ${path}: the token is empty`);
  return await TokenAuth.fromToken(token);
}
