/**
 * The host's unix socket table through the kernel's `sock_diag` netlink interface (man 7 sock_diag,
 * linux/unix_diag.h). `/proc/net/unix` prints a socket's name as it was bound, newlines and spaces
 * included, so a sandbox that binds a name holding a newline and a forged line hides its own socket
 * from another policy's cover, or has a sandbox's served socket covered; here each name comes with
 * its length, and with the device and inode of the file it bound.
 *
 * The netlink socket, like `/proc/net/unix` (`/proc/self/net`), answers for the network namespace
 * of its caller: the launcher's, which it shares with the server (it makes no network namespace of
 * its own, root or not). The launcher asks before it drops its capabilities and installs its seccomp
 * filter (`sandbox_exec.ts`), and where the kernel refuses the socket or the dump (no `unix_diag`,
 * a filter of the host's), the caller reads `/proc/net/unix` as before.
 */
import type { BoundSocket, SocketFile } from "./host_sockets.ts";
import { decodePathBytes } from "./path_bytes.ts";
import type { Sys } from "./sys.ts";

const AF_NETLINK = 16n;
const SOCK_DGRAM = 2n;
const SOCK_CLOEXEC = 0o2000000n;
const NETLINK_SOCK_DIAG = 4n;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const AF_UNIX = 1;
const UDIAG_SHOW_NAME = 0x1;
const UDIAG_SHOW_VFS = 0x2;
const UNIX_DIAG_NAME = 0;
const UNIX_DIAG_VFS = 1;
/** `TCP_LISTEN`, the state of a listening unix socket. */
const LISTEN = 10;
const TYPE_DGRAM = 2;
const EINTR = 4n;
/** Bytes of one `recvfrom`: a dump's message is at most a page or two; more makes fewer calls. */
const RECEIVE_BYTES = 65536;
const HEADER = 16;
const DIAG_MSG = 16;

/** The kernel's refusal of a dump (an `NLMSG_ERROR` answer), or a malformed answer. */
export class UnixDiagError extends Error {
  readonly errno: number;
  constructor(errno: number, detail: string) {
    super(`unix_diag: ${detail}`);
    this.name = "UnixDiagError";
    this.errno = errno;
  }
}

/** The dump request for every unix socket, with its name and its file: nlmsghdr + unix_diag_req. */
export function unixDiagRequest(seq: number): Uint8Array {
  const bytes = new Uint8Array(HEADER + 24);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.length, true);
  view.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
  view.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, true);
  view.setUint32(8, seq, true);
  bytes[HEADER] = AF_UNIX;
  view.setUint32(HEADER + 4, 0xffffffff, true); // every state
  view.setUint32(HEADER + 12, UDIAG_SHOW_NAME | UDIAG_SHOW_VFS, true);
  return bytes;
}

/**
 * The bound pathname sockets of one `recvfrom`'s messages, appended to `found`; true once the dump
 * is done. Unbound and abstract sockets, and names that are not absolute (relative ones name no
 * place the launcher can look up), are left out. Throws `UnixDiagError` on an error answer or a
 * message that runs past the bytes.
 */
export function parseUnixDiag(bytes: Uint8Array, found: BoundSocket[]): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + HEADER <= bytes.length;) {
    const length = view.getUint32(at, true);
    const type = view.getUint16(at + 4, true);
    if (length < HEADER || at + length > bytes.length) throw new UnixDiagError(0, "truncated message");
    if (type === NLMSG_DONE) return true;
    if (type === NLMSG_ERROR) {
      const errno = length >= HEADER + 4 ? -view.getInt32(at + HEADER, true) : 0;
      throw new UnixDiagError(errno, `the kernel refused the dump (errno ${errno})`);
    }
    if (type === SOCK_DIAG_BY_FAMILY && length >= HEADER + DIAG_MSG) {
      const socket = diagSocket(bytes.subarray(at + HEADER, at + length));
      if (socket !== null) found.push(socket);
    }
    at += align(length);
  }
  return false;
}

/** One `unix_diag_msg` and its attributes, as a bound pathname socket; null for any other. */
function diagSocket(message: Uint8Array): BoundSocket | null {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const type = message[1] ?? 0;
  const state = message[2] ?? 0;
  const inode = view.getUint32(4, true);
  let name: Uint8Array | null = null;
  let file: SocketFile | null = null;
  for (let at = DIAG_MSG; at + 4 <= message.length;) {
    const length = view.getUint16(at, true);
    const kind = view.getUint16(at + 2, true) & 0x3fff;
    if (length < 4 || at + length > message.length) throw new UnixDiagError(0, "truncated attribute");
    if (kind === UNIX_DIAG_NAME) name = message.subarray(at + 4, at + length);
    if (kind === UNIX_DIAG_VFS && length >= 12) {
      const device = view.getUint32(at + 8, true);
      // The kernel's own dev_t: 12 bits of major above 20 of minor.
      file = { major: device >>> 20, minor: device & 0xfffff, inode: view.getUint32(at + 4, true) };
    }
    at += align(length);
  }
  // A pathname's bytes end at its NUL; an abstract name starts with one.
  if (name === null || name[0] !== 0x2f) return null;
  const end = name.indexOf(0);
  // Bytes that are not UTF-8 are escaped, not replaced (`path_bytes.ts`): the name stays the file's.
  const path = decodePathBytes(end < 0 ? name : name.subarray(0, end));
  return { path, inode: String(inode), serving: state === LISTEN || type === TYPE_DGRAM, file };
}

/** `n` rounded up to netlink's 4-byte alignment. */
function align(n: number): number {
  return (n + 3) & ~3;
}

/**
 * The host's bound pathname sockets, asked of the kernel on a `NETLINK_SOCK_DIAG` socket; null
 * when the kernel refuses the socket, the request or the dump, so that the caller reads the table's
 * text instead.
 */
export function unixSocketTable(sys: Sys): BoundSocket[] | null {
  const fd = sys.try("socket", [AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG]);
  if (fd < 0n) return null;
  try {
    const request = unixDiagRequest(1);
    // sockaddr_nl of the kernel: family, then port id 0 and no groups.
    const kernel = new Uint8Array(12);
    new DataView(kernel.buffer).setUint16(0, Number(AF_NETLINK), true);
    let sent: bigint;
    do {
      sent = sys.try("sendto", [
        fd,
        sys.buffer(request),
        BigInt(request.length),
        0n,
        sys.buffer(kernel),
        12n,
      ]);
    } while (sent === -EINTR);
    if (sent !== BigInt(request.length)) return null;
    const found: BoundSocket[] = [];
    const buffer = new Uint8Array(RECEIVE_BYTES);
    for (;;) {
      const got = sys.try("recvfrom", [fd, sys.buffer(buffer), BigInt(buffer.length), 0n, 0n, 0n]);
      if (got === -EINTR) continue;
      if (got <= 0n) return null;
      if (parseUnixDiag(buffer.subarray(0, Number(got)), found)) return found;
    }
  } catch (error) {
    if (error instanceof UnixDiagError) return null;
    throw error;
  } finally {
    sys.try("close", [fd]);
  }
}
