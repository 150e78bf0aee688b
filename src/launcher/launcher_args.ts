/**
 * The argv of `exec-server sandbox-exec`: parsing in the launcher, formatting in the launch plans.
 *
 * ```
 * sandbox-exec [--read P]... [--write P]... [--deny P]... [--read-only P]... [--exec P]...
 *              [--list P]... [--no-links-in P]... [--network on|off] [--cwd DIR] [--argv0 NAME]
 *              [--without mount-ns|seccomp]... -- PROGRAM [ARG]...
 * sandbox-exec --probe
 * sandbox-exec --args-on-stdin
 * ```
 *
 * `--args-on-stdin` starts a spare launcher ahead of need: it loads everything, then reads the
 * argv of the first form from stdin (`encodeStdinArgs`) and goes on as if it had been given it.
 */

/** A layer that `--without` can leave out (for measuring its cost only; never in a launch plan). */
export type OptionalLayer = "mount-ns" | "seccomp";

/** The parsed launcher argv. */
export interface LauncherArgs {
  readonly readable: readonly string[];
  readonly writable: readonly string[];
  readonly denied: readonly string[];
  readonly readOnly: readonly string[];
  /** Areas a sandbox could write: a root is never looked up through a symlink inside one. */
  readonly noLinksIn: readonly string[];
  /** Extra read + execute paths the program's image needs (runtime binary, libraries, script). */
  readonly exec: readonly string[];
  /** Directories whose listing (only) is allowed. */
  readonly list: readonly string[];
  readonly network: boolean;
  /**
   * The program's working directory, entered once confined: the launcher itself starts in `/`,
   * never in a directory the sandbox can write (runtimes read config files from their cwd).
   */
  readonly cwd: string;
  readonly without: readonly OptionalLayer[];
  /** Absolute path of the program to execute. */
  readonly program: string;
  readonly argv0: string;
  readonly args: readonly string[];
}

/** `--probe`: report what the host offers and exit; `--args-on-stdin`: wait for the argv. */
export type LauncherMode = { readonly kind: "probe" } | { readonly kind: "stdin" } | {
  readonly kind: "exec";
  readonly args: LauncherArgs;
};

/** The flag of a spare launcher, which reads its argv from stdin. */
export const ARGS_ON_STDIN = "--args-on-stdin";

/** Digits of the length line before the argv on a spare launcher's stdin: up to 99,999,999 bytes. */
export const STDIN_LENGTH_DIGITS = 8;

/**
 * The argv for a spare launcher's stdin: its UTF-8 length as `STDIN_LENGTH_DIGITS` decimal digits
 * and a newline, then a JSON array of strings. The launcher reads exactly that many bytes, so
 * whatever follows on the pipe is left for the program it runs.
 */
export function encodeStdinArgs(argv: readonly string[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(argv));
  const length = String(json.length);
  if (length.length > STDIN_LENGTH_DIGITS) {
    throw new RangeError(`launcher argv of ${length} bytes is too long`);
  }
  const header = new TextEncoder().encode(`${length.padStart(STDIN_LENGTH_DIGITS, "0")}\n`);
  const bytes = new Uint8Array(header.length + json.length);
  bytes.set(header);
  bytes.set(json, header.length);
  return bytes;
}

/** The argv of a spare launcher's stdin: its JSON text, which must be an array of strings. */
export function decodeStdinArgs(json: string): string[] {
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new RangeError("the argv on stdin is not a JSON array of strings");
  }
  return value;
}

const LIST_FLAGS = {
  "--read": "readable",
  "--write": "writable",
  "--deny": "denied",
  "--read-only": "readOnly",
  "--no-links-in": "noLinksIn",
  "--exec": "exec",
  "--list": "list",
} as const;

/** Parses launcher argv; throws `RangeError` with a usage message on anything malformed. */
export function parseLauncherArgs(argv: readonly string[]): LauncherMode {
  if (argv.length === 1 && argv[0] === "--probe") return { kind: "probe" };
  if (argv.length === 1 && argv[0] === ARGS_ON_STDIN) return { kind: "stdin" };
  const lists: Record<(typeof LIST_FLAGS)[keyof typeof LIST_FLAGS], string[]> = {
    readable: [],
    writable: [],
    denied: [],
    readOnly: [],
    noLinksIn: [],
    exec: [],
    list: [],
  };
  let network: boolean | null = null;
  let argv0: string | null = null;
  let cwd = "/";
  const without: OptionalLayer[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--") break;
    const value = argv[i + 1];
    if (value === undefined) throw new RangeError(`${String(flag)} needs a value`);
    i++;
    if (flag !== undefined && flag in LIST_FLAGS) {
      if (!value.startsWith("/")) {
        throw new RangeError(`${flag} needs an absolute path, got ${JSON.stringify(value)}`);
      }
      lists[LIST_FLAGS[flag as keyof typeof LIST_FLAGS]].push(value); // Checked by the `in` test above.
    } else if (flag === "--network") {
      if (value !== "on" && value !== "off") {
        throw new RangeError(`--network needs on or off, got ${JSON.stringify(value)}`);
      }
      network = value === "on";
    } else if (flag === "--argv0") {
      argv0 = value;
    } else if (flag === "--cwd") {
      if (!value.startsWith("/")) {
        throw new RangeError(`--cwd needs an absolute path, got ${JSON.stringify(value)}`);
      }
      cwd = value;
    } else if (flag === "--without") {
      if (value !== "mount-ns" && value !== "seccomp") {
        throw new RangeError(`--without needs mount-ns or seccomp, got ${JSON.stringify(value)}`);
      }
      without.push(value);
    } else {
      throw new RangeError(`unknown flag ${JSON.stringify(flag)}`);
    }
  }
  const [program, ...args] = argv.slice(i + 1);
  if (program === undefined) throw new RangeError("missing -- PROGRAM");
  if (!program.startsWith("/")) {
    throw new RangeError(`PROGRAM must be an absolute path, got ${JSON.stringify(program)}`);
  }
  if (network === null) throw new RangeError("--network on|off is required");
  return {
    kind: "exec",
    args: { ...lists, network, cwd, without, program, argv0: argv0 ?? program, args },
  };
}

/** Formats launcher argv (the inverse of `parseLauncherArgs` for the exec mode). */
export function formatLauncherArgs(args: LauncherArgs): string[] {
  const out: string[] = [];
  for (const [flag, key] of Object.entries(LIST_FLAGS)) {
    for (const path of args[key]) out.push(flag, path);
  }
  out.push("--network", args.network ? "on" : "off", "--cwd", args.cwd, "--argv0", args.argv0);
  for (const layer of args.without) out.push("--without", layer);
  out.push("--", args.program, ...args.args);
  return out;
}
