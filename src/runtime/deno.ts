/**
 * The Deno adapter: the only module (with its `deno_*.ts` siblings) that says `Deno.`.
 */
import { spawn as nodeSpawn } from "node:child_process";
import v8 from "node:v8";
import vm from "node:vm";
import { RELEASE_INTERVAL_MS, TrailingThrottle } from "./trailing_throttle.ts";
import type { ChildProcess } from "node:child_process";
import { constants } from "node:os";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { IMAGE_RUN_VARIABLE } from "./image_run_mark.ts";
import { perlExecArgs } from "./perl_exec.ts";
import { findExecutable } from "./pty_launch.ts";
import { spawnDenoPty } from "./deno_pty.ts";
import { DenoStdio } from "./deno_stdio.ts";
import { envRecord } from "./env_record.ts";
import { codeCacheOf, denoDir, emitCacheOf } from "./deno_dir.ts";
import { markInheritedCloseOnExec } from "./deno_inherited_fds.ts";
import { catchIgnoredSignals } from "./deno_inherited_signals.ts";
import type {
  ExitStatus,
  HttpServer,
  PermissionFence,
  PipeChild,
  ProgramImage,
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

/** Signal names as Deno reports them, to numbers, from the runtime's own table. */
const SIGNAL_NUMBERS: ReadonlyMap<string, number> = new Map(Object.entries(constants.signals));

/** How often a backlogged WebSocket is checked for having drained: Deno has no drain event. */
const DRAIN_POLL_MS = 5;

/** Creates the Deno runtime adapter. */
export function createDenoRuntime(): Promise<Runtime> {
  return Promise.resolve(new DenoRuntime());
}

/** Builds an `Error` that carries an errno code, as the runtime's own OS errors do. */
function errnoError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** Maps a signal name (or none) and a code to an `ExitStatus` with a numeric signal. */
function exitStatusOf(code: number | null, signalName: string | null): ExitStatus {
  const signal = signalName === null ? undefined : SIGNAL_NUMBERS.get(signalName);
  return signal === undefined ? { code: code ?? 0, signal: null } : { code: null, signal };
}

/** A `Deno.Command` child's stdin: a writer whose `write` resolves once the pipe took the bytes. */
class DenoStdinSink implements StdinSink {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #closed = false;

  constructor(stream: WritableStream<Uint8Array>) {
    this.#writer = stream.getWriter();
  }

  /** Rejects with `code: "EPIPE"` (Deno's `BrokenPipe`) once no process holds the read end. */
  async write(data: Uint8Array): Promise<void> {
    if (this.#closed) throw errnoError("EPIPE", "stdin is closed");
    await this.#writer.write(data);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#writer.close();
    } catch {
      // The stream already failed (broken pipe): it is closed either way.
    }
  }
}

/** Between two tries to listen again after Deno's accept loop has ended. */
const RELISTEN_RETRY_MS = 100;

/** A `node:child_process` child's stdin, used only for the argv0 path. */
class NodeStdinSink implements StdinSink {
  readonly #stream: NonNullable<ChildProcess["stdin"]>;
  #closed = false;

  constructor(stream: NonNullable<ChildProcess["stdin"]>) {
    this.#stream = stream;
    // Errors reach the write callbacks; this keeps an EPIPE from becoming an uncaught exception.
    stream.on("error", () => {});
  }

  /** Resolves when libuv has written the bytes; rejects with `code: "EPIPE"` without a reader. */
  write(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(errnoError("EPIPE", "stdin is closed"));
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#stream.write(data, (error) => (error ? reject(error) : resolve()));
    return promise;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#stream.end(() => resolve());
    // end() never calls back after an error: the pipe is closed either way.
    this.#stream.once("error", () => resolve());
    return promise;
  }
}

/** Turns a Node readable into a Web stream that pauses the source while the reader lags. */
function webReadable(stream: Readable): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      stream.on("data", (chunk: Uint8Array) => {
        controller.enqueue(chunk);
        if ((controller.desiredSize ?? 0) <= 0) stream.pause();
      });
      stream.once("end", () => controller.close());
      stream.once("error", (error) => controller.error(error));
    },
    pull() {
      stream.resume();
    },
    cancel() {
      stream.destroy();
    },
  });
}

/**
 * Spawns through `node:child_process`, whose `argv0` option Deno honours (Deno.Command has none).
 * Used only when argv0 differs from the program; measured exact: argv, environment, setsid.
 */
async function spawnWithArgv0(plan: SpawnPlan): Promise<PipeChild> {
  const child = nodeSpawn(plan.program, [...plan.args], {
    argv0: plan.argv0,
    cwd: plan.cwd,
    env: { ...plan.env },
    detached: true,
    stdio: [plan.stdin === "pipe" ? "pipe" : "ignore", "pipe", "pipe"],
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => resolve(exitStatusOf(code, signal)));
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    // Node reports spawn failures asynchronously, with `code` set to the errno name.
    child.once("error", reject);
  });
  const { pid, stdout, stderr, stdin } = child;
  if (pid === undefined || stdout === null || stderr === null) {
    throw new TypeError("node:child_process returned a child without pid or pipes");
  }
  return {
    pid,
    stdout: webReadable(stdout),
    stderr: webReadable(stderr),
    stdin: stdin === null ? null : new NodeStdinSink(stdin),
    exited,
  };
}

/**
 * `--allow-read` and `--allow-write` for a fence, and no other permission; Deno reads `,,` as a
 * literal comma in a list, and adds up repeated flags.
 */
function fenceFlags(fence: PermissionFence): string[] {
  return [...flagsListing("--allow-read", fence.read), ...flagsListing("--allow-write", fence.write)];
}

/**
 * The kernel refuses an argument longer than 128 KiB (`MAX_ARG_STRLEN`), which a policy's roots
 * can exceed in one list: the paths go in as many flags as they need, each well below it.
 */
const FENCE_FLAG_CHARS = 64 * 1024;

/** `flag=PATH,PATH…` for `paths`, split over flags of at most `FENCE_FLAG_CHARS` characters. */
function flagsListing(flag: string, paths: readonly string[]): string[] {
  const flags: string[] = [];
  let listed: string[] = [];
  let chars = 0;
  for (const path of new Set(paths)) {
    const escaped = path.replaceAll(",", ",,");
    if (listed.length > 0 && chars + escaped.length + 1 > FENCE_FLAG_CHARS) {
      flags.push(`${flag}=${listed.join(",")}`);
      listed = [];
      chars = 0;
    }
    listed.push(escaped);
    chars += escaped.length + 1;
  }
  if (listed.length > 0) flags.push(`${flag}=${listed.join(",")}`);
  return flags;
}

/** Formats a peer address as `ip:port`, bracketing IPv6. */
function formatAddress(address: Deno.Addr): string {
  if (address.transport !== "tcp" && address.transport !== "udp") return "";
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}

/**
 * Spawns a program that leads its own session once it runs (`SpawnPlan.ownSession`): posix_spawn
 * without setsid(1) in front, and without `detached`, which would make Deno fork.
 */
function spawnOwnSession(plan: SpawnPlan): PipeChild {
  // Deno.Command throws synchronously with an errno `code` (ENOENT, EACCES).
  const child = new Deno.Command(plan.program, {
    args: [...plan.args],
    cwd: plan.cwd,
    env: { ...plan.env },
    clearEnv: true,
    stdin: plan.stdin === "pipe" ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return {
    pid: child.pid,
    stdout: child.stdout,
    stderr: child.stderr,
    stdin: plan.stdin === "pipe" ? new DenoStdinSink(child.stdin) : null,
    exited: child.status.then((status) => exitStatusOf(status.code, status.signal)),
  };
}

/** UTF-8 length of a string, computed only when its UTF-16 length cannot decide the limit. */
function exceedsBytes(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return new TextEncoder().encode(text).byteLength > limit;
}

/** Connects a Deno server socket to the handlers, with drain polling and the size limit. */
function attachSocket(
  socket: WebSocket,
  options: { handlers: WsHandlers; remote: string; maxMessageBytes: number; live: Set<WebSocket> },
): void {
  const { handlers, maxMessageBytes, live } = options;
  socket.binaryType = "arraybuffer";
  let drainTimer: ReturnType<typeof setTimeout> | null = null;
  const checkDrain = (): void => {
    drainTimer = null;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > 0) drainTimer = setTimeout(checkDrain, DRAIN_POLL_MS);
    else handlers.onDrain(connection);
  };
  const tooBig = (): void => {
    // Ours, when it is below Deno's own (`webSocketMessageLimit`), which ends the connection itself.
    socket.close(1009, "message too big");
  };
  const connection: WsConnection = {
    send(message) {
      socket.send(message);
      if (drainTimer === null && socket.bufferedAmount > 0) {
        drainTimer = setTimeout(checkDrain, DRAIN_POLL_MS);
      }
    },
    bufferedAmount: () => socket.bufferedAmount,
    close: (code, reason) => socket.close(code, reason),
    // Deno has no abort for a server WebSocket: the Close frame waits behind the unsent data, and
    // the idle timeout (no pong from a peer that does not read) ends the connection.
    terminate: (code, reason) => socket.close(code, reason),
    remote: options.remote,
  };
  socket.onopen = () => {
    live.add(socket);
    handlers.onOpen(connection);
  };
  socket.onmessage = (event: MessageEvent<unknown>) => {
    const data = event.data;
    if (typeof data === "string") {
      if (exceedsBytes(data, maxMessageBytes)) return tooBig();
      handlers.onMessage(connection, data);
    } else if (data instanceof ArrayBuffer) {
      if (data.byteLength > maxMessageBytes) return tooBig();
      handlers.onMessage(connection, new Uint8Array(data));
    }
  };
  socket.onclose = (event: CloseEvent) => {
    live.delete(socket);
    if (drainTimer !== null) clearTimeout(drainTimer);
    drainTimer = null;
    handlers.onClose(connection, event.code, event.reason);
  };
}

/** `Uint8Array.prototype.toBase64` (ES2026; Deno has it, the TypeScript library does not yet). */
const toBase64 = (Uint8Array.prototype as unknown as { toBase64: (this: Uint8Array) => string }).toBase64;

/**
 * V8's `gc()`: Deno has no API for it, but the flag can be set at run time and a fresh context then
 * exposes the function. Streams leave hundreds of MB of short-lived strings that V8 otherwise keeps.
 */
function exposedGc(): (() => void) | null {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    return typeof gc === "function" ? () => void gc() : null;
  } catch {
    return null;
  }
}

/**
 * glibc's `malloc_trim(0)`: Deno's own side (child pipes, sockets, ops) allocates with malloc, whose
 * arenas keep what is freed: 500 spawns of /bin/true left 50 MB resident that a trim gave back
 * (Deno 2.9.6). Null where libc cannot be opened.
 */
function mallocTrim(): (() => void) | null {
  try {
    const { symbols } = Deno.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" } });
    return () => void symbols.malloc_trim(0n);
  } catch {
    return null;
  }
}

/** Whether `needle` occurs in `haystack`. */
function includesBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0];
  if (first === undefined) return true;
  for (let at = haystack.indexOf(first); at !== -1 && at + needle.length <= haystack.length;) {
    let matched = true;
    for (let offset = 1; offset < needle.length; offset++) {
      if (haystack[at + offset] !== needle[offset]) {
        matched = false;
        break;
      }
    }
    if (matched) return true;
    at = haystack.indexOf(first, at + 1);
  }
  return false;
}

/** glibc's search path for execvp when PATH is unset (`confstr(_CS_PATH)`). */
const EXECVP_DEFAULT_PATH = ["/bin", "/usr/bin"];

/**
 * Whether execvp without a PATH finds `program` for the bare `name`: then setsid can exec the bare
 * name and the child sees it as argv[0] without a perl in between.
 */
async function foundOnDefaultPath(name: string, program: string): Promise<boolean> {
  try {
    const target = await Deno.stat(program);
    for (const dir of EXECVP_DEFAULT_PATH) {
      let found: Deno.FileInfo;
      try {
        found = await Deno.stat(`${dir}/${name}`);
      } catch {
        continue;
      }
      if (!found.isFile || found.mode === null || (found.mode & 0o111) === 0) continue;
      return found.dev === target.dev && found.ino === target.ino;
    }
  } catch {
    // The program vanished: let the spawn report it.
  }
  return false;
}

/** The Deno implementation of the runtime seam. */
class DenoRuntime implements Runtime {
  readonly name = "deno";
  readonly releaseAfterSending = true;
  readonly version: string = Deno.version.deno;
  /**
   * What `Deno.upgradeWebSocket` takes (fastwebsockets' 64 MiB, with no option to raise it): a
   * larger message ends the connection in the runtime, before any handler sees it, most often
   * without a Close frame. Deno 2.9.6 took 64 MiB − 256 bytes of text and no byte more; 64 KiB
   * less than 64 MiB leaves room for whatever else it counts.
   */
  readonly webSocketMessageLimit: number = 64 * 1024 * 1024 - 64 * 1024;
  // V8 copies a kept string out of its young generation and marks it in the old one (`OutputLog`).
  readonly keepsOutputBytes = true;
  readonly #stdio = new DenoStdio();

  /** `setsid(1)`, when the host has it: see `spawn`. */
  readonly #setsid: string | null = findExecutable(["/usr/bin/setsid", "/bin/setsid"]);
  /** perl, when the host has it: sets an exact argv[0] without a fork (see `spawn`). */
  readonly #perl: string | null = findExecutable(["/usr/bin/perl", "/bin/perl"]);
  /** env(1), which starts perl with an empty environment on the terminal path. */
  readonly #env: string | null = findExecutable(["/usr/bin/env", "/bin/env"]);
  /** Whether what the server inherited is kept from children yet (done before the first spawn). */
  #inheritedKept = false;

  /**
   * Keeps the descriptors and ignored signals the server inherited out of every child; see
   * `deno_inherited_fds.ts` and `deno_inherited_signals.ts`.
   */
  #keepInheritedFromChildren(): void {
    if (this.#inheritedKept) return;
    this.#inheritedKept = true;
    markInheritedCloseOnExec();
    catchIgnoredSignals();
  }

  // async, so that a spawn failure arrives as a rejection and never as a synchronous throw.
  async spawn(plan: SpawnPlan): Promise<PipeChild> {
    this.#keepInheritedFromChildren();
    // `detached: true` makes Deno fork (a setsid pre-exec hook rules out posix_spawn), and a fork
    // costs in proportion to the server's memory: 2 ms at 30 MB, 17 ms at 300 MB. Spawning
    // `setsid PROGRAM …` instead keeps posix_spawn; setsid(1) calls setsid() and execs in place,
    // so the pid, the session and the process group stay the child's own. A bare argv0 that
    // names the program found on the child's PATH is looked up the same way by setsid's execvp.
    // Any other argv[0] (an explicit arg0, or a bare name found on the server's PATH while the
    // child has none) goes through perl's `exec {PROGRAM} LIST`, which sets it exactly; the
    // node:child_process route also sets it but forks, costing 30 ms per spawn at 300 MB.
    if (plan.ownSession === true && plan.argv0 === plan.program) return spawnOwnSession(plan);
    const setsid = this.#setsid;
    const bare = !plan.argv0.includes("/") && plan.program.endsWith(`/${plan.argv0}`);
    const onChildPath = bare &&
      (plan.env["PATH"] !== undefined || await foundOnDefaultPath(plan.argv0, plan.program));
    const viaPerl = setsid !== null && this.#perl !== null && plan.argv0 !== plan.program && !onChildPath;
    const direct = plan.argv0 === plan.program || (setsid !== null && (onChildPath || viaPerl));
    if (!direct) return await spawnWithArgv0(plan);
    // With setsid in front, a missing program would show up only as setsid's exit status; stat it
    // first so the error carries its errno like every other spawn failure.
    if (setsid !== null) await Deno.stat(plan.program);
    const args = setsid === null
      ? [...plan.args]
      : viaPerl && this.#perl !== null
      ? perlExecArgs(this.#perl, plan)
      : [plan.argv0, ...plan.args];
    // Deno.Command throws synchronously with an errno `code` (ENOENT, EACCES).
    const child = new Deno.Command(setsid ?? plan.program, {
      args,
      cwd: plan.cwd,
      env: viaPerl ? {} : { ...plan.env },
      clearEnv: true,
      stdin: plan.stdin === "pipe" ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      detached: setsid === null,
    }).spawn();
    return await Promise.resolve({
      pid: child.pid,
      stdout: child.stdout,
      stderr: child.stderr,
      stdin: plan.stdin === "pipe" ? new DenoStdinSink(child.stdin) : null,
      exited: child.status.then((status) => exitStatusOf(status.code, status.signal)),
    });
  }

  async spawnPty(plan: SpawnPlan, size: TerminalSize): Promise<PtyChild> {
    this.#keepInheritedFromChildren();
    const tools = { signals: SIGNAL_NUMBERS, perl: this.#perl, env: this.#env };
    return await Promise.resolve(spawnDenoPty(plan, size, tools));
  }

  serve(options: ServeOptions): Promise<HttpServer> {
    const live = new Set<WebSocket>();
    const handler = (
      request: Request,
      info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    ): Response | Promise<Response> => {
      // Read before the upgrade: the request is closed afterwards.
      const remote = formatAddress(info.remoteAddr);
      const address = info.remoteAddr;
      const peer = address.transport === "tcp" ? { address: address.hostname, port: address.port } : null;
      const upgrade = (req: Request, upgradeOptions: UpgradeOptions): Response => {
        let upgraded: Deno.WebSocketUpgrade;
        try {
          upgraded = Deno.upgradeWebSocket(req, {
            idleTimeout: options.idleTimeoutSeconds,
            // Without `protocol` Deno sends no Sec-WebSocket-Protocol header.
            ...(upgradeOptions.protocol === null ? {} : { protocol: upgradeOptions.protocol }),
          });
        } catch {
          return new Response("expected a websocket upgrade", { status: 400 });
        }
        attachSocket(upgraded.socket, {
          handlers: upgradeOptions.handlers,
          remote,
          maxMessageBytes: options.maxMessageBytes,
          live,
        });
        return upgraded.response;
      };
      return options.fetch(request, upgrade, peer);
    };
    let stopped = false;
    const { promise: listening, resolve } = Promise.withResolvers<number>();
    // Deno.serve sets TCP_NODELAY on every accepted socket itself (strace: setsockopt TCP_NODELAY
    // 1), so a reply that follows a notification is not held back by Nagle and a delayed ACK.
    const listen = (port: number): Deno.HttpServer<Deno.NetAddr> => {
      const server = Deno.serve({
        hostname: options.hostname,
        port,
        onListen: (address) => resolve(address.port),
        handler,
      });
      // Deno's accept loop ends at the first failed accept (EMFILE, once connections have used up
      // the descriptors) and closes the listening socket; the server listens again on its port,
      // after a pause, since an accept may fail again at once while the descriptors stay used up.
      void server.finished.catch(() => {}).then(async () => {
        const port = await listening;
        if (!stopped) setTimeout(() => relisten(port), RELISTEN_RETRY_MS);
      });
      return server;
    };
    const relisten = (port: number): void => {
      if (stopped) return;
      try {
        current = listen(port);
      } catch {
        // No descriptor for the socket yet (or the port is briefly taken): try again.
        setTimeout(() => relisten(port), RELISTEN_RETRY_MS);
      }
    };
    let current = listen(options.port);
    return listening.then((port) => ({
      hostname: options.hostname,
      port,
      stop: async (force: boolean) => {
        stopped = true;
        // Upgraded sockets have left the HTTP server: shutdown() alone would not close them.
        if (force) { for (const socket of live) socket.close(1001, "server shutting down"); }
        await current.shutdown();
      },
    }));
  }

  selfImage(): ProgramImage {
    const main = Deno.mainModule;
    return {
      executable: Deno.realPathSync(Deno.execPath()),
      script: main.startsWith("file:") ? fileURLToPath(main) : main,
    };
  }

  sourceCaches(sourceRoot: string): string[] {
    const dir = denoDir(this.env(), this.cwd());
    return dir === null ? [] : [emitCacheOf(dir, sourceRoot)];
  }

  codeCaches(): string[] {
    const dir = denoDir(this.env(), this.cwd());
    return dir === null ? [] : codeCacheOf(dir);
  }

  imageCommand(image: ProgramImage, args: readonly string[], fence?: PermissionFence): string[] {
    if (image.script === null) return [image.executable, ...args];
    // The config and the lock file would be looked up near the script or the cwd; the program
    // needs neither. (npm resolution stays on: it is what maps a bundle's bare `path` to Node's.)
    const permissions = fence === undefined ? ["--allow-all"] : fenceFlags(fence);
    return [
      image.executable,
      "run",
      "--no-config",
      "--no-lock",
      "--no-remote",
      "--no-prompt",
      "--quiet",
      ...permissions,
      image.script,
      ...args,
    ];
  }

  imageEnv(stateDir: string, cacheDir = `${stateDir}/deno`): Record<string, string> {
    // DENO_DIR holds the code and analysis caches the next start trusts: one no sandbox writes.
    return { DENO_DIR: cacheDir, HOME: stateDir, DENO_NO_UPDATE_CHECK: "1", [IMAGE_RUN_VARIABLE]: "1" };
  }

  /**
   * Deno keeps compiled code in an SQLite database in DENO_DIR, keyed by the module's URL; an entry
   * written lately may still be in its write-ahead log. Its bytes name the script, so a search
   * of both files for the script's path tells whether it is there without an SQLite reader.
   */
  async codeCacheHolds(cacheDir: string, script: string): Promise<boolean> {
    // The URL names the script as it was run, or by its real path (a link on the way resolved).
    const real = await Deno.realPath(script).catch(() => script);
    const names = [...new Set([script, real])].map((path) => new TextEncoder().encode(path));
    for (const file of ["v8_code_cache_v2", "v8_code_cache_v2-wal"]) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(`${cacheDir}/${file}`);
      } catch {
        continue;
      }
      if (names.some((name) => includesBytes(bytes, name))) return true;
    }
    return false;
  }

  async bundle(options: { entry: string; outfile: string; cwd: string }): Promise<void> {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", options.entry, "--output", options.outfile],
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      const stderr = new TextDecoder().decode(output.stderr).trim().slice(-400);
      throw new Error(`deno bundle ${options.entry} failed: ${stderr}`);
    }
  }

  env(): Record<string, string> {
    const copy = envRecord();
    for (const [name, value] of Object.entries(Deno.env.toObject())) copy[name] = value;
    return copy;
  }

  cwd(): string {
    return Deno.cwd();
  }

  pid(): number {
    return Deno.pid;
  }

  kill(pid: number, signal: number): void {
    Deno.kill(pid, signal);
  }

  onSignal(name: "SIGTERM" | "SIGINT", handler: () => void): void {
    Deno.addSignalListener(name, handler);
  }

  onUncaughtError(handler: (error: unknown) => void): void {
    // Deno ends the process after these events unless a listener prevents their default.
    globalThis.addEventListener("error", (event) => {
      event.preventDefault();
      handler(event.error);
    });
    globalThis.addEventListener("unhandledrejection", (event) => {
      event.preventDefault();
      handler(event.reason);
    });
  }

  exit(code: number): never {
    return this.#stdio.exit(code);
  }

  #collect: (() => void) | null | undefined = undefined;
  #trim: (() => void) | null | undefined = undefined;
  /** Whether a request since the last release wants the second collection (`releaseMemory`). */
  #collectAgain = false;
  readonly #release = new TrailingThrottle(RELEASE_INTERVAL_MS, () => {
    this.#collectAndTrim();
    if (!this.#collectAgain) return;
    this.#collectAgain = false;
    // What a connection that just closed held is garbage only a task later: after a 64 MiB
    // `fs/readFile` and the client's leaving, a collection at once left 220 MiB resident and one
    // more on the next task 156 (a second collection in the same task did not help; Deno 2.9.6).
    setTimeout(() => this.#collectAndTrim(), 0);
  });

  #collectAndTrim(): void {
    this.#collect ??= exposedGc();
    this.#collect?.();
    this.#trim ??= mallocTrim();
    this.#trim?.();
  }

  // A collection here is two full compacting ones (the `gc` V8 exposes answers as to a low memory
  // notification), 20–130 ms on this machine: a release for closed processes, whose garbage is
  // there already, makes one. 1,000 `/bin/true` grew RSS by the same (−7 against −4 to −9 MiB).
  releaseMemory(settled = false): void {
    if (!settled) this.#collectAgain = true;
    this.#release.request();
  }

  releaseDeferredMemory(): void {
    this.#release.flush();
  }

  // Uint8Array.prototype.toBase64 encodes 64 KiB chunks some twenty times as fast as node:buffer
  // here (6 against 120 ms per 64 MiB, Deno 2.9.6).
  encodeBase64(bytes: Uint8Array): string {
    return toBase64.call(bytes);
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
