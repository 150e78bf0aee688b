/**
 * The Bun adapter: the only module (with its `bun_*.ts` siblings) that says `Bun.`.
 */
import { constants } from "node:os";
import { TrailingThrottle } from "./trailing_throttle.ts";
import type {
  ExitStatus,
  HttpServer,
  PipeChild,
  PtyChild,
  Runtime,
  ServeOptions,
  SpawnPlan,
  StdinSink,
  TerminalSize,
  UpgradeOptions,
  WsConnection,
  WsHandlers,
} from "./runtime.ts";

/** Signal names as Bun reports them, to numbers, from the runtime's own table. */
const SIGNAL_NUMBERS: ReadonlyMap<string, number> = new Map(Object.entries(constants.signals));

/** Per-socket state that Bun carries in `ws.data`. */
interface SocketData {
  readonly handlers: WsHandlers;
  readonly remote: string;
  connection: WsConnection | null;
}

/** Creates the Bun runtime adapter. */
export function createBunRuntime(): Promise<Runtime> {
  return Promise.resolve(new BunRuntime());
}

/** Builds an `Error` that carries an errno code, as the runtime's own OS errors do. */
function errnoError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** Maps Bun's exit fields to an `ExitStatus` with a numeric signal. */
function exitStatusOf(exitCode: number | null, signalCode: string | number | null): ExitStatus {
  if (typeof signalCode === "number") return { code: null, signal: signalCode };
  if (signalCode !== null) {
    const signal = SIGNAL_NUMBERS.get(signalCode);
    if (signal !== undefined) return { code: null, signal };
  }
  return { code: exitCode ?? 0, signal: null };
}

/** Waits for the child and reads its status once Bun has reaped it. */
async function exitedOf(proc: Bun.Subprocess): Promise<ExitStatus> {
  await proc.exited;
  return exitStatusOf(proc.exitCode, proc.signalCode);
}

/** The stdin pipe of a Bun child, with write completion and EPIPE made explicit. */
class BunStdinSink implements StdinSink {
  readonly #sink: Bun.FileSink;
  #closed = false;

  constructor(sink: Bun.FileSink) {
    this.#sink = sink;
  }

  /**
   * Buffers the bytes in Bun's sink and resolves once `flush` has handed them to the kernel.
   * Rejects with `code: "EPIPE"` when no reader is left. Bun closes its end of the pipe when
   * the child exits, so a write after the exit also rejects with EPIPE (even if a grandchild
   * still holds the read end).
   */
  async write(data: Uint8Array): Promise<void> {
    if (this.#closed) throw errnoError("EPIPE", "stdin is closed");
    // A closed sink answers with a boolean instead of a byte count or a promise (measured on
    // Bun 1.4.5): the bytes went nowhere.
    const accepted: unknown = this.#sink.write(data);
    if (typeof accepted === "boolean") throw errnoError("EPIPE", "broken pipe");
    if (accepted instanceof Promise) await accepted;
    await this.#sink.flush();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#sink.end();
    } catch {
      // The reader is already gone: the pipe is closed either way.
    }
  }
}

/** A child on a Bun terminal. */
class BunPtyChild implements PtyChild {
  readonly pid: number;
  readonly output: ReadableStream<Uint8Array>;
  readonly exited: Promise<ExitStatus>;
  readonly #terminal: Bun.Terminal;

  constructor(proc: Bun.Subprocess, terminal: Bun.Terminal, output: ReadableStream<Uint8Array>) {
    this.pid = proc.pid;
    this.output = output;
    this.exited = exitedOf(proc);
    this.#terminal = terminal;
  }

  /** Bun accepts every byte at once and buffers what the terminal cannot take yet. */
  write(data: Uint8Array): Promise<void> {
    if (this.#terminal.closed) return Promise.reject(errnoError("EIO", "terminal is closed"));
    this.#terminal.write(data);
    return Promise.resolve();
  }

  resize(size: TerminalSize): void {
    if (!this.#terminal.closed) this.#terminal.resize(size.cols, size.rows);
  }

  close(): void {
    if (!this.#terminal.closed) this.#terminal.close();
  }
}

/** Formats a peer address as `ip:port`, bracketing IPv6. */
function formatAddress(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Wraps a Bun server socket in the runtime-neutral connection. */
function connectionOf(ws: Bun.ServerWebSocket<SocketData>): WsConnection {
  return {
    send: (text) => {
      ws.send(text);
    },
    bufferedAmount: () => ws.getBufferedAmount(),
    close: (code, reason) => ws.close(code, reason),
    remote: ws.data.remote,
  };
}

/** The connection of a socket, created on first use. */
function connectionFor(ws: Bun.ServerWebSocket<SocketData>): WsConnection {
  const existing = ws.data.connection;
  if (existing !== null) return existing;
  const created = connectionOf(ws);
  ws.data.connection = created;
  return created;
}

/** Writes queued one after another so that concurrent callers never interleave partial writes. */
class SerialWriter {
  readonly #sink: Bun.FileSink;
  #tail: Promise<void> = Promise.resolve();

  constructor(sink: Bun.FileSink) {
    this.#sink = sink;
  }

  write(data: Uint8Array): Promise<void> {
    const next = this.#tail.then(async () => {
      const accepted: unknown = this.#sink.write(data);
      if (accepted instanceof Promise) await accepted;
      await this.#sink.flush();
    });
    // Keep the chain alive after a failure; the caller still sees the rejection.
    this.#tail = next.catch(() => {});
    return next;
  }
}

/** Least time between two `releaseMemory` collections. */
const RELEASE_INTERVAL_MS = 1_000;

/** The Bun implementation of the runtime seam. */
class BunRuntime implements Runtime {
  readonly name = "bun";
  readonly version: string = Bun.version;
  #stdout: SerialWriter | null = null;
  #stderr: SerialWriter | null = null;

  // async, so that a spawn failure arrives as a rejection and never as a synchronous throw.
  async spawn(plan: SpawnPlan): Promise<PipeChild> {
    // Bun.spawn throws synchronously with an errno `code` (ENOENT, EACCES, ENOEXEC).
    const proc = Bun.spawn([plan.program, ...plan.args], {
      argv0: plan.argv0,
      cwd: plan.cwd,
      env: { ...plan.env },
      stdin: plan.stdin === "pipe" ? "pipe" : "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
    const stdin = plan.stdin === "pipe" && proc.stdin !== undefined ? new BunStdinSink(proc.stdin) : null;
    return await Promise.resolve({
      pid: proc.pid,
      stdout: proc.stdout,
      stderr: proc.stderr,
      stdin,
      exited: exitedOf(proc),
    });
  }

  async spawnPty(plan: SpawnPlan, size: TerminalSize): Promise<PtyChild> {
    let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
    const output = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
    });
    let ended = false;
    const proc = Bun.spawn([plan.program, ...plan.args], {
      argv0: plan.argv0,
      cwd: plan.cwd,
      env: { ...plan.env },
      terminal: {
        cols: size.cols,
        rows: size.rows,
        data(_terminal, data) {
          if (!ended) controller?.enqueue(data);
        },
        // Called at the terminal's end of file (every slave holder gone), not at the exit.
        exit() {
          if (ended) return;
          ended = true;
          controller?.close();
        },
      },
    });
    const terminal = proc.terminal;
    if (terminal === undefined) throw new TypeError("bun did not attach a terminal");
    return await Promise.resolve(new BunPtyChild(proc, terminal, output));
  }

  serve(options: ServeOptions): Promise<HttpServer> {
    const upgraded = new WeakSet<Response>();
    // Bun sets TCP_NODELAY on every accepted socket itself (strace: setsockopt TCP_NODELAY 1), so
    // a reply that follows a notification is not held back by Nagle and a delayed ACK.
    const server = Bun.serve<SocketData>({
      hostname: options.hostname,
      port: options.port,
      fetch: async (request, bunServer) => {
        const upgrade = (req: Request, upgradeOptions: UpgradeOptions): Response => {
          const address = bunServer.requestIP(req);
          const data: SocketData = {
            handlers: upgradeOptions.handlers,
            remote: address === null ? "" : formatAddress(address.address, address.port),
            connection: null,
          };
          const headers = new Headers();
          // Bun echoes the first offered subprotocol unless the upgrade names one itself; an
          // empty value makes it send none (measured: no header in the 101).
          headers.set("Sec-WebSocket-Protocol", upgradeOptions.protocol ?? "");
          if (!bunServer.upgrade(req, { headers, data })) {
            return new Response("expected a websocket upgrade", { status: 400 });
          }
          const response = new Response(null, { status: 200 });
          upgraded.add(response);
          return response;
        };
        const response = await options.fetch(request, upgrade);
        // After a successful upgrade Bun has written the 101 itself and wants no response.
        return upgraded.has(response) ? undefined : response;
      },
      websocket: {
        maxPayloadLength: options.maxMessageBytes,
        idleTimeout: options.idleTimeoutSeconds,
        sendPings: true,
        perMessageDeflate: true,
        // Back-pressure is the server's job (PROTOCOL.md §5.12): never drop a message here.
        backpressureLimit: 0,
        closeOnBackpressureLimit: false,
        open(ws) {
          ws.binaryType = "uint8array";
          ws.data.handlers.onOpen(connectionFor(ws));
        },
        message(ws, message) {
          // With binaryType "uint8array" a binary message is a Uint8Array, whatever the declared type.
          ws.data.handlers.onMessage(connectionFor(ws), message);
        },
        drain(ws) {
          ws.data.handlers.onDrain(connectionFor(ws));
        },
        close(ws, code, reason) {
          ws.data.handlers.onClose(connectionFor(ws), code, reason);
        },
      },
    });
    const port = server.port;
    if (port === undefined) throw new TypeError("bun server has no port");
    return Promise.resolve({
      hostname: options.hostname,
      port,
      stop: (force: boolean) => server.stop(force),
    });
  }

  selfCommand(): string[] {
    // A compiled binary runs its embedded script from the virtual /$bunfs/ file system.
    if (Bun.main.startsWith("/$bunfs/")) return [process.execPath];
    return [process.execPath, Bun.main];
  }

  scriptCommand(path: string): string[] {
    if (Bun.main.startsWith("/$bunfs/")) return [process.execPath];
    return [process.execPath, path];
  }

  env(): Record<string, string> {
    const copy: Record<string, string> = {};
    for (const [name, value] of Object.entries(Bun.env)) {
      if (value !== undefined) copy[name] = value;
    }
    return copy;
  }

  cwd(): string {
    return process.cwd();
  }

  pid(): number {
    return process.pid;
  }

  kill(pid: number, signal: number): void {
    process.kill(pid, signal);
  }

  onSignal(name: "SIGTERM" | "SIGINT", handler: () => void): void {
    process.on(name, handler);
  }

  exit(code: number): never {
    process.exit(code);
  }

  // Streams leave hundreds of MB of short-lived strings; JSC keeps the pages until a full
  // collection, which `force` runs now, and mimalloc then returns them to the OS.
  readonly #release = new TrailingThrottle(RELEASE_INTERVAL_MS, () => Bun.gc(true));

  releaseMemory(): void {
    this.#release.request();
  }

  stdin(): ReadableStream<Uint8Array> {
    return Bun.stdin.stream();
  }

  writeStdout(data: Uint8Array): Promise<void> {
    this.#stdout ??= new SerialWriter(Bun.stdout.writer());
    return this.#stdout.write(data);
  }

  writeStderr(text: string): Promise<void> {
    this.#stderr ??= new SerialWriter(Bun.stderr.writer());
    return this.#stderr.write(new TextEncoder().encode(text)).catch(() => {
      // stderr is gone: there is nowhere left to report that.
    });
  }
}
