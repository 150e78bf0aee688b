import { answerError, ErrorCode, RpcError } from "../protocol/mod.ts";
import type { ErrorCodeValue, ErrorKind } from "../protocol/mod.ts";

/** Linux errno numbers and `strerror` texts (glibc wording) of the errors file and process calls meet. */
const ERRNO_TABLE = {
  EPERM: [1, "Operation not permitted"],
  ENOENT: [2, "No such file or directory"],
  ESRCH: [3, "No such process"],
  EINTR: [4, "Interrupted system call"],
  EIO: [5, "Input/output error"],
  ENXIO: [6, "No such device or address"],
  E2BIG: [7, "Argument list too long"],
  ENOEXEC: [8, "Exec format error"],
  EBADF: [9, "Bad file descriptor"],
  ECHILD: [10, "No child processes"],
  EAGAIN: [11, "Resource temporarily unavailable"],
  ENOMEM: [12, "Cannot allocate memory"],
  EACCES: [13, "Permission denied"],
  EFAULT: [14, "Bad address"],
  ENOTBLK: [15, "Block device required"],
  EBUSY: [16, "Device or resource busy"],
  EEXIST: [17, "File exists"],
  EXDEV: [18, "Invalid cross-device link"],
  ENODEV: [19, "No such device"],
  ENOTDIR: [20, "Not a directory"],
  EISDIR: [21, "Is a directory"],
  EINVAL: [22, "Invalid argument"],
  ENFILE: [23, "Too many open files in system"],
  EMFILE: [24, "Too many open files"],
  ENOTTY: [25, "Inappropriate ioctl for device"],
  ETXTBSY: [26, "Text file busy"],
  EFBIG: [27, "File too large"],
  ENOSPC: [28, "No space left on device"],
  ESPIPE: [29, "Illegal seek"],
  EROFS: [30, "Read-only file system"],
  EMLINK: [31, "Too many links"],
  EPIPE: [32, "Broken pipe"],
  ERANGE: [34, "Numerical result out of range"],
  EDEADLK: [35, "Resource deadlock avoided"],
  ENAMETOOLONG: [36, "File name too long"],
  ENOLCK: [37, "No locks available"],
  ENOSYS: [38, "Function not implemented"],
  ENOTEMPTY: [39, "Directory not empty"],
  ELOOP: [40, "Too many levels of symbolic links"],
  ENODATA: [61, "No data available"],
  EOVERFLOW: [75, "Value too large for defined data type"],
  EILSEQ: [84, "Invalid or incomplete multibyte or wide character"],
  ENOTSOCK: [88, "Socket operation on non-socket"],
  EOPNOTSUPP: [95, "Operation not supported"],
  EADDRINUSE: [98, "Address already in use"],
  ENETUNREACH: [101, "Network is unreachable"],
  ECONNRESET: [104, "Connection reset by peer"],
  ENOTCONN: [107, "Transport endpoint is not connected"],
  ETIMEDOUT: [110, "Connection timed out"],
  ECONNREFUSED: [111, "Connection refused"],
  EHOSTUNREACH: [113, "No route to host"],
  ESTALE: [116, "Stale file handle"],
  EUCLEAN: [117, "Structure needs cleaning"],
  EDQUOT: [122, "Disk quota exceeded"],
  ECANCELED: [125, "Operation canceled"],
} as const satisfies Record<string, readonly [number, string]>;

/** Names that share a number with a name of `ERRNO_TABLE` on Linux. */
const ERRNO_ALIASES = {
  EWOULDBLOCK: "EAGAIN",
  EDEADLOCK: "EDEADLK",
  ENOTSUP: "EOPNOTSUPP",
} as const satisfies Record<string, keyof typeof ERRNO_TABLE>;

/** The errno names with a code and kind of their own (PROTOCOL.md §7.1); the rest are OsError. */
const ERRNO_KINDS = {
  ENOENT: [ErrorCode.NotFound, "NotFound"],
  EACCES: [ErrorCode.InvalidRequest, "PermissionDenied"],
  EPERM: [ErrorCode.InvalidRequest, "PermissionDenied"],
  EINVAL: [ErrorCode.InvalidRequest, "InvalidInput"],
  EEXIST: [ErrorCode.Internal, "AlreadyExists"],
  ENOTDIR: [ErrorCode.Internal, "NotADirectory"],
  EISDIR: [ErrorCode.Internal, "IsADirectory"],
  ENOTEMPTY: [ErrorCode.Internal, "DirectoryNotEmpty"],
  EROFS: [ErrorCode.Internal, "ReadOnlyFilesystem"],
} as const satisfies Partial<Record<keyof typeof ERRNO_TABLE, readonly [ErrorCodeValue, ErrorKind]>>;

type ErrnoName = keyof typeof ERRNO_TABLE;

const NAME_BY_NUMBER = new Map<number, ErrnoName>();
for (const [name, [number]] of Object.entries(ERRNO_TABLE)) {
  // Object.entries loses the key type of the const table it walks.
  NAME_BY_NUMBER.set(number, name as ErrnoName);
}

/** What an OS error looks like once classified. */
export interface OsErrorInfo {
  /** The errno name as reported (`ENOENT`), or the name of `number` when only that is known. */
  readonly name: string;
  /** The Linux errno number; 0 when unknown. */
  readonly number: number;
}

function canonicalName(name: string): ErrnoName | undefined {
  if (Object.hasOwn(ERRNO_TABLE, name)) return name as ErrnoName; // checked by hasOwn just above
  if (Object.hasOwn(ERRNO_ALIASES, name)) return ERRNO_ALIASES[name as keyof typeof ERRNO_ALIASES]; // ditto
  return undefined;
}

/**
 * Recognises an error thrown by `node:fs` on Bun or Deno (a string `code` such as `ENOENT` and
 * usually a negative `errno`), or a Deno error whose message ends in `(os error N)`.
 */
export function osErrorInfo(error: unknown): OsErrorInfo | null {
  if (typeof error !== "object" || error === null) return null;
  const code: unknown = Reflect.get(error, "code");
  const errno: unknown = Reflect.get(error, "errno");
  const number = typeof errno === "number" && Number.isInteger(errno) && errno !== 0 ? Math.abs(errno) : 0;
  if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) {
    const known = canonicalName(code);
    if (known !== undefined) return { name: code, number: ERRNO_TABLE[known][0] };
    if (number !== 0) return { name: code, number };
  }
  const message: unknown = Reflect.get(error, "message");
  const match = typeof message === "string" ? /\(os error (\d+)\)$/.exec(message) : null;
  const fromMessage = match === null ? 0 : Number(match[1]);
  const fallback = number !== 0 ? number : fromMessage;
  if (fallback === 0) return null;
  return { name: NAME_BY_NUMBER.get(fallback) ?? `E${fallback}`, number: fallback };
}

/** The RpcError of PROTOCOL.md §7.1 for an errno name (`ENOENT`), as the kernel would report it. */
export function errnoError(name: string, options: { cause?: unknown } = {}): RpcError {
  const known = canonicalName(name);
  const number = known === undefined ? 0 : ERRNO_TABLE[known][0];
  return fromInfo({ name, number }, options.cause);
}

function fromInfo(info: OsErrorInfo, cause: unknown): RpcError {
  const known = canonicalName(info.name) ?? NAME_BY_NUMBER.get(info.number);
  const text = known === undefined ? `Unknown error ${info.number}` : ERRNO_TABLE[known][1];
  const mapped: readonly [ErrorCodeValue, ErrorKind] =
    known !== undefined && Object.hasOwn(ERRNO_KINDS, known)
      ? ERRNO_KINDS[known as keyof typeof ERRNO_KINDS] // checked by hasOwn just above
      : [ErrorCode.Internal, "OsError"];
  return answerError(mapped[0], mapped[1], `${text} (os error ${info.number})`, {
    errno: known ?? info.name,
    cause,
  });
}

/** `<strerror> (os error N)` for an errno name; the message part of `errnoError`. */
export function osErrorText(name: string): string {
  return errnoError(name).message;
}

/**
 * Converts an OS error to the RpcError of PROTOCOL.md §7.1. An RpcError passes through; anything
 * that is not an OS error becomes -32603 `internal error` with the original as its cause.
 */
export function osError(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  const info = osErrorInfo(error);
  if (info === null) return new RpcError(ErrorCode.Internal, "Internal", "internal error", { cause: error });
  return fromInfo(info, error);
}

/**
 * Like `osError`, but leaves errors that are neither OS errors nor RpcErrors untouched, so the
 * dispatcher logs their detail.
 */
export function toFsError(error: unknown): unknown {
  if (error instanceof RpcError) return error;
  return osErrorInfo(error) === null ? error : osError(error);
}

/** The errno name of an OS error (`ENOENT`), or null for anything else; RpcErrors report theirs. */
export function errnoOf(error: unknown): string | null {
  if (error instanceof RpcError) return error.errno ?? null;
  const info = osErrorInfo(error);
  if (info === null) return null;
  return canonicalName(info.name) ?? NAME_BY_NUMBER.get(info.number) ?? info.name;
}

/** A refusal by Deno's `--allow-read` / `--allow-write` fence. */
export type FenceDenial =
  | {
    readonly access: "read" | "write";
    /** The path Deno refused, as it names it. */
    readonly path: string;
  }
  /** An operation the fence refuses whatever the path (Deno creates no symlinks under scoped grants). */
  | { readonly access: "unscoped" };

/**
 * Recognises Deno's permission refusal (`NotCapable`: `Requires read access to "<path>", …`),
 * which the sandbox worker meets before the kernel does; null for anything else.
 */
export function fenceDenial(error: unknown): FenceDenial | null {
  if (!(error instanceof Error) || (error.name !== "NotCapable" && error.name !== "PermissionDenied")) {
    return null;
  }
  const match = /^Requires (read|write) access to "(.*)"/.exec(error.message);
  if (match === null) return /requires unscoped/.test(error.message) ? { access: "unscoped" } : null;
  const path = match[2] ?? "";
  return { access: match[1] === "write" ? "write" : "read", path };
}
