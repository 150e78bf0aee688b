import { isLoopbackName } from "./host_check.ts";

/** Server options from the command line (PROTOCOL.md §1, §2.8, §3.10). */
export interface ServerOptions {
  listen: { kind: "websocket"; hostname: string; port: number } | { kind: "stdio" };
  allowOrigins: string[];
  /** Admit local peers of other uids without a token (`--allow-local-users`). */
  allowLocalUsers: boolean;
  /** Host names a loopback listener admits besides loopback names (`--allow-host`). */
  allowHosts: string[];
  auth: { tokenFile: string | null; tokenSha256: string | null } | null;
  insecureNoAuth: boolean;
  maxMessageBytes: number;
  /** The largest reply: a client's WebSocket holds messages to a limit of its own. */
  maxReplyBytes: number;
  maxInflightRequests: number;
  maxSessions: number;
  /** WebSocket connections held at once, with a session or not (`--max-connections`). */
  maxConnections: number;
  maxProcessesPerSession: number;
  maxProcesses: number;
  maxReadFileBytes: number;
  /** Unsent data across connections before the largest holder is cut off (§5.12). */
  maxOutboundBytes: number;
  /** Input accepted for processes' stdin and not yet read, whole server; past it writes are refused (§5.7). */
  maxUnreadInputBytes: number;
  maxWaitingPolls: number;
  sessionTtlMs: number;
  /** An HTTP connection without a request (or an upgrade) this long is ended (`--http-idle-timeout`). */
  httpIdleMs: number;
  processRetentionMs: number;
  retainedOutputBytes: number;
  killGraceMs: number;
  /** Limits of every process whose request does not set them (`--default-memory-bytes` …). */
  defaultLimits: { memoryBytes: number | null; pids: number | null; cpuSeconds: number | null };
  quiet: boolean;
  /** Keep one fs worker launcher started ahead of need (off with `--no-spare-launcher`). */
  spareLauncher: boolean;
  /**
   * How long each start-up probe child may take before its process group is killed and its step
   * counts as failed (unset: `START_STEP_LIMIT_MS`, 30 s); set by embedders and tests only.
   */
  startStepLimitMs?: number;
}

/** What the command line asked for. */
export type CliCommand =
  | { kind: "serve"; options: ServerOptions }
  | { kind: "help" }
  | { kind: "version" };

/** A command-line mistake: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Defaults of every option. */
export function defaultOptions(): ServerOptions {
  return {
    listen: { kind: "websocket", hostname: "127.0.0.1", port: 0 },
    allowOrigins: [],
    allowHosts: [],
    allowLocalUsers: false,
    auth: null,
    insecureNoAuth: false,
    maxMessageBytes: 134_217_728,
    maxReplyBytes: 134_217_728,
    maxInflightRequests: 1024,
    maxSessions: 1024,
    maxConnections: 1024,
    maxProcessesPerSession: 1024,
    maxProcesses: 4096,
    maxReadFileBytes: 134_217_728,
    maxOutboundBytes: 1_073_741_824,
    maxUnreadInputBytes: 67_108_864,
    maxWaitingPolls: 16_384,
    sessionTtlMs: 30_000,
    httpIdleMs: 10_000,
    processRetentionMs: 30_000,
    retainedOutputBytes: 1_048_576,
    killGraceMs: 2_000,
    defaultLimits: { memoryBytes: null, pids: null, cpuSeconds: null },
    quiet: false,
    spareLauncher: true,
  };
}

/** The `--help` text: every flag. */
export const HELP_TEXT = `exec-server: WebSocket JSON-RPC execution server (Codex exec-server compatible)

Usage:
  exec-server [--listen URL] [options]
  exec-server fs-worker                  (internal: the sandboxed fs worker)
  exec-server sandbox-exec ... -- PROG   (internal: the restrict-then-exec launcher)

Options:
  --listen URL                     ws://HOST:PORT (default ws://127.0.0.1:0; port 0 picks a free port)
                                   or stdio (newline-delimited JSON on stdin/stdout)
  --allow-origin ORIGIN            accept WebSocket upgrades carrying this Origin (repeatable)
  --allow-host NAME                on a loopback listener, accept this Host name too (repeatable;
                                   only loopback names are accepted otherwise)
  --ws-auth capability-token       require a capability token on upgrades and /metrics
  --ws-token-file PATH             the token is this file's content (trailing whitespace removed)
  --ws-token-sha256 HEX            the SHA-256 (64 hex digits) of the token
  --insecure-no-auth               allow a non-loopback listener without authentication
  --allow-local-users              admit local peers of other users without a token (sandboxed
                                   processes are refused whatever the flags)
  --max-message-bytes N            largest message (default 134217728)
  --max-reply-bytes N              largest reply; a larger one is refused with -32001 (default
                                   134217728, what a Bun client takes; Deno's and Rust's take 64 MiB)
  --max-inflight-requests N        per connection (default 1024)
  --max-sessions N                 (default 1024)
  --max-connections N              WebSocket connections at once, handshaking ones included; an
                                   upgrade past it is answered 503 (default 1024)
  --max-processes-per-session N    running processes per session (default 1024)
  --max-processes N                running processes in the whole server (default 4096)
  --max-read-file-bytes N          largest fs/readFile (default 134217728)
  --max-outbound-bytes N           unsent data of all connections; over it the connection holding
                                   the most is cut off (default 1073741824)
  --max-unread-input-bytes N       process/write input that processes have not read yet, whole
                                   server; a write past it is refused with -32001 (default 67108864)
  --max-waiting-polls N            process/read long polls waiting at once, whole server; past it a
                                   session over its share is refused with -32001 (default 16384)
  --session-ttl SECONDS            detached session lifetime (default 30; fractions allowed)
  --http-idle-timeout SECONDS      an HTTP connection that sends no request, or no further one, for
                                   this long is closed, and so is a WebSocket without a finished
                                   handshake by then (default 10; 0: never)
  --process-retention SECONDS      how long a closed process stays readable (default 30)
  --retained-output-bytes N        output kept per process (default 1048576)
  --kill-grace SECONDS             SIGTERM to SIGKILL grace for timeoutMs (default 2)
  --default-memory-bytes N         memory limit of every process and its descendants (default none)
  --default-pids N                 limit on the processes and threads of each process tree (default none)
  --default-cpu-seconds SECONDS    CPU time limit of each process tree (default none; fractions allowed)
                                   (a process/start's limits override these; a host that cannot
                                   enforce one refuses to start)
  --quiet                          log errors only
  --no-spare-launcher              start no fs worker launcher ahead of need (saves its process,
                                   about 30 MiB; a sandboxed fs session's first call then waits for it)
  --help                           this text
  --version                        print the version

The first stdout line of a WebSocket server is its bound URL; logs go to stderr.`;

type Setter = (options: ServerOptions, value: string, flag: string) => void;

const VALUE_FLAGS: Record<string, Setter> = {
  "--listen": (options, value) => {
    options.listen = parseListen(value);
  },
  "--allow-origin": (options, value) => {
    options.allowOrigins.push(value);
  },
  "--allow-host": (options, value, flag) => {
    if (value.trim() === "") throw new UsageError(`${flag}: expected a host name`);
    options.allowHosts.push(value);
  },
  "--ws-auth": (options, value, flag) => {
    if (value !== "capability-token") {
      throw new UsageError(`${flag}: expected capability-token, got ${value}`);
    }
    options.auth ??= { tokenFile: null, tokenSha256: null };
  },
  "--ws-token-file": (options, value) => {
    options.auth = { tokenFile: value, tokenSha256: options.auth?.tokenSha256 ?? null };
  },
  "--ws-token-sha256": (options, value, flag) => {
    if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new UsageError(`${flag}: expected 64 hex digits`);
    options.auth = { tokenFile: options.auth?.tokenFile ?? null, tokenSha256: value.toLowerCase() };
  },
  "--max-message-bytes": integerSetter("maxMessageBytes"),
  "--max-inflight-requests": integerSetter("maxInflightRequests"),
  "--max-sessions": integerSetter("maxSessions"),
  "--max-connections": integerSetter("maxConnections"),
  "--max-processes-per-session": integerSetter("maxProcessesPerSession"),
  "--max-processes": integerSetter("maxProcesses"),
  "--max-read-file-bytes": integerSetter("maxReadFileBytes"),
  "--max-reply-bytes": integerSetter("maxReplyBytes"),
  "--max-outbound-bytes": integerSetter("maxOutboundBytes"),
  "--max-unread-input-bytes": integerSetter("maxUnreadInputBytes"),
  "--max-waiting-polls": integerSetter("maxWaitingPolls"),
  "--retained-output-bytes": integerSetter("retainedOutputBytes"),
  "--session-ttl": secondsSetter("sessionTtlMs"),
  "--http-idle-timeout": secondsSetter("httpIdleMs"),
  "--process-retention": secondsSetter("processRetentionMs"),
  "--kill-grace": secondsSetter("killGraceMs"),
  "--default-memory-bytes": limitSetter("memoryBytes"),
  "--default-pids": limitSetter("pids"),
  "--default-cpu-seconds": limitSetter("cpuSeconds"),
};

const SWITCHES: Record<string, (options: ServerOptions) => void> = {
  "--allow-local-users": (options) => {
    options.allowLocalUsers = true;
  },
  "--insecure-no-auth": (options) => {
    options.insecureNoAuth = true;
  },
  "--quiet": (options) => {
    options.quiet = true;
  },
  "--no-spare-launcher": (options) => {
    options.spareLauncher = false;
  },
};

/** Parses the command line; throws UsageError with a one-line reason. */
export function parseCommandLine(args: readonly string[]): CliCommand {
  const options = defaultOptions();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--help" || arg === "-h") return { kind: "help" };
    if (arg === "--version") return { kind: "version" };
    const equals = arg.indexOf("=");
    const flag = arg.startsWith("--") && equals !== -1 ? arg.slice(0, equals) : arg;
    const toggle = SWITCHES[flag];
    if (toggle !== undefined && equals === -1) {
      toggle(options);
      continue;
    }
    const setter = VALUE_FLAGS[flag];
    if (setter === undefined) throw new UsageError(`unknown flag ${arg} (see --help)`);
    let value: string;
    if (equals !== -1 && flag !== arg) {
      value = arg.slice(equals + 1);
    } else {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      value = next;
    }
    setter(options, value, flag);
  }
  if (options.auth !== null && (options.auth.tokenFile === null) === (options.auth.tokenSha256 === null)) {
    throw new UsageError(
      "--ws-auth capability-token needs exactly one of --ws-token-file and --ws-token-sha256",
    );
  }
  const listen = options.listen;
  if (
    listen.kind === "websocket" && !isLoopback(listen.hostname) && options.auth === null &&
    !options.insecureNoAuth
  ) {
    throw new UsageError(
      `refusing to listen on ${listen.hostname} without authentication (use --ws-auth capability-token or --insecure-no-auth)`,
    );
  }
  return { kind: "serve", options };
}

/** Parses `--listen`: `ws://HOST:PORT`, `stdio` or `stdio://`. */
export function parseListen(value: string): ServerOptions["listen"] {
  if (value === "stdio" || value === "stdio://") return { kind: "stdio" };
  const match = /^ws:\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#\[\]]+):(\d{1,5})\/?$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || match[1] === undefined || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`--listen: expected ws://HOST:PORT or stdio, got ${value}`);
  }
  const host = match[1].startsWith("[") ? match[1].slice(1, -1) : match[1];
  return { kind: "websocket", hostname: host, port };
}

/** Whether a listen host is loopback (127.0.0.0/8, ::1, localhost). */
export function isLoopback(hostname: string): boolean {
  return isLoopbackName(hostname.toLowerCase());
}

type IntegerKey =
  | "maxMessageBytes"
  | "maxReplyBytes"
  | "maxInflightRequests"
  | "maxSessions"
  | "maxConnections"
  | "maxProcessesPerSession"
  | "maxProcesses"
  | "maxReadFileBytes"
  | "maxOutboundBytes"
  | "maxUnreadInputBytes"
  | "maxWaitingPolls"
  | "retainedOutputBytes";

function integerSetter(key: IntegerKey): Setter {
  return (options, value, flag) => {
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < 1) {
      throw new UsageError(`${flag}: expected a positive integer, got ${value}`);
    }
    options[key] = Number(value);
  };
}

/**
 * The longest duration a runtime timer holds, in whole seconds: Bun and Deno fire a longer one
 * after 1 ms, which made a long `--session-ttl` end every detached session at once.
 */
const MAX_TIMER_SECONDS = 2_147_483;
/** The longest CPU time limit, a year, as `process/start.limits.cpuSeconds` takes it. */
const MAX_CPU_SECONDS = 31_536_000;

function limitSetter(key: keyof ServerOptions["defaultLimits"]): Setter {
  return (options, value, flag) => {
    const number = Number(value);
    const valid = key === "cpuSeconds"
      ? value.trim() !== "" && Number.isFinite(number) && number > 0
      : /^\d+$/.test(value) && Number.isSafeInteger(number) && number >= 1;
    if (!valid) {
      throw new UsageError(
        `${flag}: expected a positive ${key === "cpuSeconds" ? "number" : "integer"}, got ${value}`,
      );
    }
    // The bound of a request's own `limits.cpuSeconds` (PROTOCOL.md §11.11).
    if (key === "cpuSeconds" && number > MAX_CPU_SECONDS) {
      throw new UsageError(`${flag}: expected a positive number up to ${MAX_CPU_SECONDS}, got ${value}`);
    }
    options.defaultLimits = { ...options.defaultLimits, [key]: number };
  };
}

function secondsSetter(key: "sessionTtlMs" | "httpIdleMs" | "processRetentionMs" | "killGraceMs"): Setter {
  return (options, value, flag) => {
    const seconds = Number(value);
    if (value.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
      throw new UsageError(`${flag}: expected a number of seconds, got ${value}`);
    }
    if (seconds > MAX_TIMER_SECONDS) {
      throw new UsageError(`${flag}: expected at most ${MAX_TIMER_SECONDS} seconds, got ${value}`);
    }
    options[key] = Math.round(seconds * 1000);
  };
}
