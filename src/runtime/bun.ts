/**
 * The Bun adapter: the only module (with its `bun_*.ts` siblings) that says `Bun.`.
 */
import { realpathSync } from "node:fs";
import { constants } from "node:os";
import { bunBuildArgs } from "./bun_build_args.ts";
import { bunTranspilerCache } from "./bun_transpiler_cache.ts";
import { BunStdio } from "./bun_stdio.ts";
import { ChildPipes, PipeMaker } from "./bun_pipes.ts";
import { envRecord } from "./env_record.ts";
import { IMAGE_RUN_VARIABLE } from "./image_run_mark.ts";
import { spawnBunPty } from "./bun_pty.ts";
import { connectionFor } from "./bun_socket.ts";
import type { SocketData } from "./bun_socket.ts";
import { libcArch } from "./libc.ts";
import { findExecutable } from "./pty_launch.ts";
import { RELEASE_INTERVAL_MS, TrailingThrottle } from "./trailing_throttle.ts";
import type {
  ExitStatus,
  HttpServer,
  PipeChild,
  ProgramImage,
  PtyChild,
  Runtime,
  ServeOptions,
  SpawnPlan,
  StdinSink,
  TerminalSize,
  UpgradeOptions,
} from "./runtime.ts";

/** Signal names as Bun reports them, to numbers, from the runtime's own table. */
const SIGNAL_NUMBERS: ReadonlyMap<string, number> = new Map(Object.entries(constants.signals));

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
   * Rejects with `code: "EPIPE"` when no reader is left. The pipe stays open after the child's
   * exit, as under Deno and the reference: a descendant may still read it.
   */
  async write(data: Uint8Array): Promise<void> {
    if (this.#closed) throw errnoError("EPIPE", "stdin is closed");
    // A sink that met EPIPE answers with a boolean instead of a byte count or a promise (measured
    // on Bun 1.4.5): the bytes went nowhere.
    const accepted: unknown = this.#sink.write(data);
    if (typeof accepted === "boolean") throw errnoError("EPIPE", "broken pipe");
    if (accepted instanceof Promise) await accepted;
    // Throws EPIPE at once when the pipe has no reader, or rejects with it when the reader goes
    // while the bytes wait for room.
    await this.#sink.flush();
  }

  /** Closes the pipe once what is buffered has gone (or its reader is gone). */
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

/** Formats a peer address as `ip:port`, bracketing IPv6. */
function formatAddress(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The Bun implementation of the runtime seam. */
class BunRuntime implements Runtime {
  readonly name = "bun";
  readonly releaseAfterSending = false;
  readonly version: string = Bun.version;
  /** Bun's server takes the limit it is given (`maxPayloadLength`). */
  readonly webSocketMessageLimit = null;
  // JavaScriptCore does not move what it keeps, and a copy of the bytes added CPU to the echo.
  readonly keepsOutputBytes = false;
  readonly #stdio = new BunStdio();

  /** Makes the children's pipes; the C library is loaded at the first spawn. */
  #pipeMaker: Promise<PipeMaker> | null = null;

  // async, so that a spawn failure arrives as a rejection and never as a synchronous throw.
  async spawn(plan: SpawnPlan): Promise<PipeChild> {
    const arch = libcArch(process.arch);
    if (arch === null) throw new Error(`unsupported architecture ${process.arch}`);
    this.#pipeMaker ??= PipeMaker.open(arch);
    // Pipes, not Bun's socket pairs (bun_pipes.ts). The child's output is read only once its
    // streams are: nothing is read into memory before the server reads it.
    const pipes = ChildPipes.make(await this.#pipeMaker, plan.stdin === "pipe");
    let proc: Bun.Subprocess;
    try {
      // Bun.spawn throws synchronously with an errno `code` (ENOENT, EACCES, ENOEXEC).
      proc = Bun.spawn([plan.program, ...plan.args], {
        argv0: plan.argv0,
        cwd: plan.cwd,
        env: { ...plan.env },
        stdio: pipes.stdio,
        detached: true,
      });
    } catch (error) {
      await pipes.abandon();
      throw error;
    }
    const ends = pipes.spawned();
    const stdin = ends.stdin === null ? null : new BunStdinSink(ends.stdin);
    // A sink that is collected closes its pipe. Bun keeps a running child, and what waits for its
    // exit, from being collected: the sink waits with them, so that the pipe stays open while the
    // child runs even when its owner keeps no reference (the cgroup watchdog, whose stdin only
    // the server's death may close, read end of file 0.7 s after the start without this).
    void proc.exited.then(() => stdin);
    return { pid: proc.pid, stdout: ends.stdout, stderr: ends.stderr, stdin, exited: exitedOf(proc) };
  }

  /** perl and env(1), where the host has them: a terminal child's exact argv[0] goes through them. */
  readonly #ptyTools = {
    perl: findExecutable(["/usr/bin/perl", "/bin/perl"]),
    env: findExecutable(["/usr/bin/env", "/bin/env"]),
    statusOf: exitedOf,
  };

  spawnPty(plan: SpawnPlan, size: TerminalSize): Promise<PtyChild> {
    return spawnBunPty(plan, size, this.#ptyTools);
  }

  serve(options: ServeOptions): Promise<HttpServer> {
    const upgraded = new WeakSet<Response>();
    // Bun sets TCP_NODELAY on every accepted socket itself (strace: setsockopt TCP_NODELAY 1), so
    // a reply that follows a notification is not held back by Nagle and a delayed ACK.
    const server = Bun.serve<SocketData>({
      hostname: options.hostname,
      port: options.port,
      fetch: async (request, bunServer) => {
        const address = bunServer.requestIP(request);
        const peer = address === null ? null : { address: address.address, port: address.port };
        const upgrade = (req: Request, upgradeOptions: UpgradeOptions): Response => {
          const data: SocketData = {
            handlers: upgradeOptions.handlers,
            remote: peer === null ? "" : formatAddress(peer.address, peer.port),
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
        const response = await options.fetch(request, upgrade, peer);
        // After a successful upgrade Bun has written the 101 itself and wants no response.
        return upgraded.has(response) ? undefined : response;
      },
      websocket: {
        maxPayloadLength: options.maxMessageBytes,
        idleTimeout: options.idleTimeoutSeconds,
        sendPings: true,
        // Negotiated, permessage-deflate lets a few KiB of a client inflate to --max-message-bytes
        // here; the upgrade is still accepted, without the extension, as Deno answers it.
        perMessageDeflate: false,
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
          const connection = connectionFor(ws);
          connection.drained();
          ws.data.handlers.onDrain(connection);
        },
        close(ws, code, reason) {
          const connection = connectionFor(ws);
          connection.dropQueue();
          ws.data.handlers.onClose(connection, code, reason);
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

  selfImage(): ProgramImage {
    // A compiled binary runs its embedded script from the virtual /$bunfs/ file system.
    const script = Bun.main.startsWith("/$bunfs/") ? null : Bun.main;
    return { executable: realpathSync(process.execPath), script };
  }

  imageCommand(image: ProgramImage, args: readonly string[]): string[] {
    // A compiled program is built without bunfig and .env autoloading (npm run compile); a
    // script run would read both from the cwd.
    if (image.script === null) return [image.executable, ...args];
    return [image.executable, "--config=/dev/null", "--no-env-file", image.script, ...args];
  }

  imageEnv(): Record<string, string> {
    // "0" turns the transpiler cache off: a cache a sandbox can write is code the next start runs.
    return { BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0", [IMAGE_RUN_VARIABLE]: "1" };
  }

  sourceCaches(): string[] {
    // Bun keeps what it transpiled of every source there, and its next start runs that instead.
    const dir = bunTranspilerCache(this.env(), this.cwd());
    return dir === null ? [] : [dir];
  }

  codeCaches(): string[] {
    return [];
  }

  codeCacheHolds(): Promise<boolean> {
    // Its bundles carry their bytecode beside them; there is no cache to warm.
    return Promise.resolve(true);
  }

  async bundle(options: { entry: string; outfile: string; cwd: string }): Promise<void> {
    const child = Bun.spawn(
      [process.execPath, ...bunBuildArgs(options.entry, options.outfile, "bun")],
      {
        cwd: options.cwd,
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    if (code !== 0) throw new Error(`bun build ${options.entry} failed: ${stderr.trim().slice(-400)}`);
  }

  env(): Record<string, string> {
    const copy = envRecord();
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

  onUncaughtError(handler: (error: unknown) => void): void {
    process.on("uncaughtException", handler);
    process.on("unhandledRejection", handler);
  }

  exit(code: number): never {
    return this.#stdio.exit(code);
  }

  // Streams leave hundreds of MB of short-lived strings; JSC keeps the pages until a full
  // collection, which `force` runs now, and mimalloc then returns them to the OS.
  readonly #release = new TrailingThrottle(RELEASE_INTERVAL_MS, () => Bun.gc(true));

  releaseMemory(): void {
    this.#release.request();
  }

  releaseDeferredMemory(): void {
    this.#release.flush();
  }

  // node:buffer encodes 64 KiB chunks about four times as fast as Uint8Array.prototype.toBase64
  // here (5 against 20 ms per 64 MiB, Bun 1.4.5); on Deno it is the other way round.
  encodeBase64(bytes: Uint8Array): string {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  }

  stdin(): ReadableStream<Uint8Array> {
    return this.#stdio.stdin();
  }

  writeStdout(data: Uint8Array): Promise<void> {
    return this.#stdio.writeStdout(data);
  }

  writeStderr(text: string): Promise<void> {
    return this.#stdio.writeStderr(text);
  }
}
