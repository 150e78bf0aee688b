/**
 * The runtime seam: the whole surface of Bun or Deno that the rest of the code may use, in
 * Web-standard types. Only `src/runtime/bun*.ts` and `src/runtime/deno*.ts` implement it.
 */

/** Which runtime executes this server. */
export type RuntimeName = "bun" | "deno";

/** How a child ended: exactly one of `code` and `signal` is non-null. */
export interface ExitStatus {
  readonly code: number | null;
  /** The signal number that killed the child. */
  readonly signal: number | null;
}

/** A fully resolved spawn request: the program path is already looked up. */
export interface SpawnPlan {
  /** Absolute (or cwd-relative with a slash) path of the executable. */
  readonly program: string;
  /** Arguments after argv[0]. */
  readonly args: readonly string[];
  /** The argv[0] the child sees. */
  readonly argv0: string;
  readonly cwd: string;
  /** The child's whole environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Whether the child gets a writable stdin pipe (else the null device). */
  readonly stdin: "pipe" | "null";
  /**
   * The program makes itself a session leader as its first act (the join helper does), so the
   * adapter need not put setsid(1) in front of it.
   */
  readonly ownSession?: boolean;
}

/** The child's stdin, in write order. */
export interface StdinSink {
  /** Resolves once the bytes are handed to the kernel (back-pressure follows the pipe). */
  write(data: Uint8Array): Promise<void>;
  /** Closes the pipe; the child reads end of file. Idempotent. */
  close(): Promise<void>;
}

/**
 * A child on pipes (real pipes, as a shell gives: the child may open `/dev/stdout` again). Every
 * child leads its own session and process group (pid = pgid). The pipes outlive the child (a
 * descendant may hold them): the owner reads each output stream to its end or cancels it, and
 * closes `stdin`, which releases them; the adapter closes none by itself.
 */
export interface PipeChild {
  readonly pid: number;
  /** Read only as it is read: nothing is read ahead into memory before the first read. */
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly stdin: StdinSink | null;
  readonly exited: Promise<ExitStatus>;
}

/** Terminal size in character cells. */
export interface TerminalSize {
  readonly cols: number;
  readonly rows: number;
}

/** A child on a pseudo-terminal; it is a session leader with the terminal as controlling tty. */
export interface PtyChild {
  readonly pid: number;
  /** Everything the terminal emits, ending when every holder of the terminal has closed it. */
  readonly output: ReadableStream<Uint8Array>;
  readonly exited: Promise<ExitStatus>;
  /** Writes to the terminal's input side, as typed keys. */
  write(data: Uint8Array): Promise<void>;
  /** Sets the window size; the foreground group gets SIGWINCH. */
  resize(size: TerminalSize): void;
  /** Releases the terminal (after the output has ended, or to hang it up). Idempotent. */
  close(): void;
}

/** An accepted WebSocket as the server sees it. */
export interface WsConnection {
  /** Sends one message: a string as a text message, bytes as a binary one. */
  send(message: string | Uint8Array): void;
  /** Bytes queued in the runtime but not yet written to the socket. */
  bufferedAmount(): number;
  close(code: number, reason: string): void;
  /**
   * Ends the connection without waiting for the peer: unsent data is dropped. Where the runtime
   * has no such call (Deno), a close whose handshake the idle timeout ends.
   */
  terminate(code: number, reason: string): void;
  /** The peer address, `ip:port`. */
  readonly remote: string;
}

/** Callbacks of one WebSocket; the server owns the logic, the runtime the transport. */
export interface WsHandlers {
  onOpen(ws: WsConnection): void;
  onMessage(ws: WsConnection, data: string | Uint8Array): void;
  onClose(ws: WsConnection, code: number, reason: string): void;
  /** Called when the runtime's outbound buffer has drained (see `bufferedAmount`). */
  onDrain(ws: WsConnection): void;
}

/** Options of a WebSocket upgrade. */
export interface UpgradeOptions {
  /** The subprotocol to select in the 101 response, if any. */
  readonly protocol: string | null;
  readonly handlers: WsHandlers;
}

/** What `serve` needs: a fetch handler that may call `upgrade` for WebSocket requests. */
export interface ServeOptions {
  readonly hostname: string;
  readonly port: number;
  /** Largest accepted WebSocket message in bytes; larger ones close with 1009. */
  readonly maxMessageBytes: number;
  /** Seconds without traffic after which a WebSocket is closed; pings keep live peers. */
  readonly idleTimeoutSeconds: number;
  readonly fetch: (
    request: Request,
    upgrade: Upgrader,
    peer: PeerAddress | null,
  ) => Response | Promise<Response>;
}

/** The address of an HTTP client as the listener saw it. */
export interface PeerAddress {
  /** An IPv4 or IPv6 address, without brackets. */
  readonly address: string;
  readonly port: number;
}

/** Upgrades a request to a WebSocket; returns the response to give back (101 on success). */
export type Upgrader = (request: Request, options: UpgradeOptions) => Response;

/** A listening HTTP server. */
export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  /** Stops accepting; with `force`, also closes live connections. */
  stop(force: boolean): Promise<void>;
}

/** What a program runs from: a compiled executable, or a runtime and a script (source or bundle). */
export interface ProgramImage {
  /** The runtime's executable, or the compiled program (an absolute, real path). */
  readonly executable: string;
  /** The script the runtime runs; null for a compiled program. */
  readonly script: string | null;
  /**
   * Files the runtime reads beside `script` when it runs it (Bun's precompiled bytecode,
   * `script.jsc`): a sandbox that runs the image lets it read them too.
   */
  readonly companionFiles?: readonly string[];
}

/** The paths a permission fence grants. */
export interface PermissionFence {
  readonly read: readonly string[];
  readonly write: readonly string[];
}

/** The runtime adapter. */
export interface Runtime {
  readonly name: RuntimeName;
  /** The runtime's version string. */
  readonly version: string;
  /**
   * The largest WebSocket message the runtime's own server takes, whatever the server asks
   * (Deno's: 64 MiB, with no option to raise it); null where the server sets it (Bun).
   */
  readonly webSocketMessageLimit: number | null;

  spawn(plan: SpawnPlan): Promise<PipeChild>;
  spawnPty(plan: SpawnPlan, size: TerminalSize): Promise<PtyChild>;
  serve(options: ServeOptions): Promise<HttpServer>;

  /** What this program runs from; re-executing it starts the launcher, the worker or the probe. */
  selfImage(): ProgramImage;
  /**
   * The argv that runs `image` with `args` without reading anything a sandbox could have written:
   * no config file, no env file, no transpiler cache. With `fence`, a runtime that has
   * permission flags (Deno) grants only those paths; without, it grants everything.
   */
  imageCommand(image: ProgramImage, args: readonly string[], fence?: PermissionFence): string[];
  /**
   * The whole environment an `imageCommand` needs: `stateDir` is the server's private directory,
   * `cacheDir` (default: one inside `stateDir`) where the runtime may keep caches across runs (its
   * code cache).
   * Both are read-only in every sandbox: what the next start trusts comes only from unconfined
   * runs of the server's own images.
   */
  imageEnv(stateDir: string, cacheDir?: string): Record<string, string>;
  /**
   * Whether the code cache in `cacheDir` (an `imageEnv` cache) holds the compiled code of the
   * script at `script`; a runtime that keeps no such cache (Bun: the bytecode is beside the bundle)
   * answers true.
   */
  codeCacheHolds(cacheDir: string, script: string): Promise<boolean>;
  /**
   * Where the runtime keeps what it compiled of the TypeScript sources under `sourceRoot` and runs
   * at the next start of a program from them, before any code of the program can check it: read-only
   * in every sandbox, as the bundles are. Deno's emit cache and Bun's transpiler cache check an
   * entry against hashes any process can compute, so a sandbox that writes one runs its code in the
   * next unconfined start. (A bundle carries Bun's `// @bun` mark, which Bun runs untranspiled.)
   */
  sourceCaches(sourceRoot: string): string[];
  /**
   * Where the runtime keeps the compiled code of every module it ran, which its next start runs
   * instead of compiling the module again, the server's own included, whether it runs from its
   * sources or a bundle: read-only in every sandbox, as the bundles are. V8 takes a module's cached
   * code when the source's length, its version and its flags match, so a sandbox that writes it
   * runs its code in the next unconfined start. Bun keeps none of a bundle (above), and what it keeps
   * of the sources is a source cache.
   */
  codeCaches(): string[];
  /** Bundles `entry` (and everything it imports) into `outfile`, one ESM file this runtime runs. */
  bundle(options: { entry: string; outfile: string; cwd: string }): Promise<void>;

  /** This process's environment (a copy, without a prototype: see `envRecord`). */
  env(): Record<string, string>;
  cwd(): string;
  pid(): number;
  /** Sends a signal number to a pid (negative = process group). Throws the OS error. */
  kill(pid: number, signal: number): void;
  /** Registers a handler for a process signal (`SIGTERM`, `SIGINT`). */
  onSignal(name: "SIGTERM" | "SIGINT", handler: () => void): void;
  /**
   * Hands `handler` each exception that no code caught and each rejection that no code handled,
   * instead of letting the runtime end the process.
   */
  onUncaughtError(handler: (error: unknown) => void): void;
  exit(code: number): never;

  /** Base64 of up to 64 KiB (an output chunk), with the codec that is fastest on this runtime. */
  encodeBase64(bytes: Uint8Array): string;
  /**
   * Whether an output log keeps a copy of each chunk's bytes (encoded again per read) rather than
   * the base64 its notification carried: cheaper where a kept string costs the collector more
   * than a copy and a reader's encoding do (see `OutputLog`).
   */
  readonly keepsOutputBytes: boolean;

  /**
   * Hints the runtime to collect garbage and hand free memory back to the OS; called after a large
   * stream ends. Throttled by the adapter, never blocks for long. `settled` says that what is to be
   * freed is garbage already (processes that closed), so one collection does.
   */
  releaseMemory(settled?: boolean): void;

  /**
   * Whether the release after a large reply waits until the reply has left the process. A
   * collection stops the socket's writes, which run on the same thread. Deno's release (two full
   * collections and a trim, 50–130 ms) cost a 64 MiB reply more in the middle of its write than
   * it costs the next request after it; Bun's (one collection, 16–30 ms) cost back-to-back reads
   * more after the write (docs/performance.md, 2026-12-07).
   */
  readonly releaseAfterSending: boolean;

  /**
   * No client is connected: a release that waits out its interval runs now, since no reply will
   * fault the pages in again soon. Does nothing when no release waits.
   */
  releaseDeferredMemory(): void;

  /** This process's stdin as a byte stream. */
  stdin(): ReadableStream<Uint8Array>;
  /** Writes to stdout; resolves when the bytes are accepted. */
  writeStdout(data: Uint8Array): Promise<void>;
  /** Writes to stderr; resolves once written (await it before `exit`), never rejects. */
  writeStderr(text: string): Promise<void>;
}
