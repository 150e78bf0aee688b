/**
 * Ends HTTP connections that hold a descriptor without being served: a TCP connect that never sends
 * a request, half a request, or a keep-alive connection left idle after its response. `Deno.serve`
 * has no header deadline and kept all three (measured: still open after 40 s, Deno 2.9.6); Bun
 * ends the first two after 12 s but kept an idle keep-alive connection (still open after 40 s,
 * Bun 1.4.5). Neither runtime hands the server a connection before its first request, so the
 * sweep finds them in the process's own descriptors: every socket whose local port is the
 * listener's and that has a peer is an accepted connection. One that is not a WebSocket, has no
 * request being handled, and has seen no request for the deadline is shut down (`shutdown(2)`,
 * not `close`: the runtime reads end of file and closes its descriptor itself).
 */
import { openFlags, syscallTable } from "../launcher/mod.ts";
import type { Libc } from "../runtime/mod.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SHUT_RDWR = 2n;
const SOCKADDR_BYTES = 128;
const AT_FDCWD = -100n;
const SEEK_SET = 0n;
const DIRENTS_BYTES = 64 * 1024;
/** Where `d_reclen` and `d_name` lie in a `linux_dirent64`. */
const DIRENT_RECLEN = 16;
const DIRENT_NAME = 19;

/** What the sweep asks of the server at each pass. */
export interface IdleHttpSweepOptions {
  readonly libc: Libc;
  /** A connection idle this long without a request (and not a WebSocket) is ended. */
  readonly idleMs: number;
  /** The listener's port, 0 while it is not listening yet. */
  readonly listeningPort: () => number;
  /** The peer ports of the open WebSockets. */
  readonly webSocketPorts: () => ReadonlySet<number>;
  readonly now?: () => number;
}

export class IdleHttpSweep {
  readonly #options: IdleHttpSweepOptions;
  readonly #now: () => number;
  readonly #numbers: {
    getsockname: number;
    getpeername: number;
    shutdown: number;
    openat: number;
    getdents64: number;
    lseek: number;
    close: number;
  };
  // The buffers whose addresses the system calls take live as long as this object.
  readonly #address = new Uint8Array(SOCKADDR_BYTES);
  readonly #length = new Uint8Array(4);
  readonly #dirents = new Uint8Array(DIRENTS_BYTES);
  /**
   * `/proc/self/fd`, opened once: a flood that has used up the descriptors is what the sweep must
   * end, and reading the directory afresh would take a descriptor there is none of (measured: a
   * Deno server at its limit of 512 kept all 512 for 30 s while the sweep failed to open it).
   */
  #directory: bigint | null = null;
  /** When a pass first saw each connection, by descriptor and peer address. */
  #seen = new Map<string, number>();
  /** When a request of a peer port last began or ended. */
  readonly #lastRequest = new Map<number, number>();
  /** Requests being handled, by peer port. */
  readonly #handling = new Map<number, number>();
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: IdleHttpSweepOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const { numbers } = syscallTable(options.libc.arch);
    this.#numbers = {
      getsockname: numbers.getsockname,
      getpeername: numbers.getpeername,
      shutdown: numbers.shutdown,
      openat: numbers.openat,
      getdents64: numbers.getdents64,
      lseek: numbers.lseek,
      close: numbers.close,
    };
  }

  /** Sweeps every half deadline until `stop`. */
  start(): void {
    if (this.#timer !== null) return;
    const libc = this.#options.libc;
    const flags = openFlags(libc.arch);
    const path = new TextEncoder().encode("/proc/self/fd\0");
    const fd = libc.syscall(
      this.#numbers.openat,
      AT_FDCWD,
      libc.addressOf(path),
      flags.O_RDONLY | flags.O_DIRECTORY | flags.O_CLOEXEC,
    );
    // Without it there is nothing to sweep with: the runtime's own handling stays.
    if (fd < 0n) return;
    this.#directory = fd;
    this.#timer = setInterval(() => this.sweep(), Math.max(50, this.#options.idleMs / 2));
    // A timer that alone keeps the process alive would hold a stopped server up.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#directory !== null) this.#options.libc.syscall(this.#numbers.close, this.#directory);
    this.#directory = null;
  }

  /** A request from `peerPort` is being handled; `requestEnded` follows once it has its response. */
  requestBegan(peerPort: number): void {
    this.#handling.set(peerPort, (this.#handling.get(peerPort) ?? 0) + 1);
    this.#lastRequest.set(peerPort, this.#now());
  }

  requestEnded(peerPort: number): void {
    const left = (this.#handling.get(peerPort) ?? 1) - 1;
    if (left <= 0) this.#handling.delete(peerPort);
    else this.#handling.set(peerPort, left);
    this.#lastRequest.set(peerPort, this.#now());
  }

  /** One pass over the descriptors; answers how many connections it ended. */
  sweep(): number {
    const port = this.#options.listeningPort();
    if (port === 0) return 0;
    const now = this.#now();
    const idleMs = this.#options.idleMs;
    const webSockets = this.#options.webSocketPorts();
    const descriptors = this.#descriptors();
    const seen = new Map<string, number>();
    let ended = 0;
    for (const fd of descriptors) {
      if (this.#port(this.#numbers.getsockname, fd) !== port) continue;
      const peerPort = this.#port(this.#numbers.getpeername, fd);
      // The listener itself has no peer.
      if (peerPort === null) continue;
      const key = `${fd} ${peerPort} ${this.#addressKey()}`;
      const since = this.#seen.get(key) ?? now;
      seen.set(key, since);
      if (webSockets.has(peerPort) || this.#handling.has(peerPort)) continue;
      const active = Math.max(since, this.#lastRequest.get(peerPort) ?? 0);
      if (now - active < idleMs) continue;
      // Checked and ended in the same turn: the runtime's own thread cannot close and reuse the
      // descriptor in between.
      this.#options.libc.syscall(this.#numbers.shutdown, fd, SHUT_RDWR);
      seen.delete(key);
      ended++;
    }
    this.#seen = seen;
    for (const [peerPort, at] of this.#lastRequest) {
      if (now - at >= idleMs && !this.#handling.has(peerPort)) this.#lastRequest.delete(peerPort);
    }
    return ended;
  }

  /** The process's descriptors, read through the directory opened at `start` (none before). */
  #descriptors(): bigint[] {
    const directory = this.#directory;
    if (directory === null) return [];
    const libc = this.#options.libc;
    if (libc.syscall(this.#numbers.lseek, directory, 0n, SEEK_SET) < 0n) return [];
    const found: bigint[] = [];
    const buffer = this.#dirents;
    const view = new DataView(buffer.buffer);
    for (;;) {
      const read = libc.syscall(
        this.#numbers.getdents64,
        directory,
        libc.addressOf(buffer),
        BigInt(DIRENTS_BYTES),
      );
      if (read <= 0n) return found;
      for (let offset = 0; offset < Number(read);) {
        const length = view.getUint16(offset + DIRENT_RECLEN, true);
        let number = 0n;
        let digits = 0;
        for (let at = offset + DIRENT_NAME; at < offset + length; at++) {
          const byte = buffer[at] ?? 0;
          if (byte < 0x30 || byte > 0x39) break;
          number = number * 10n + BigInt(byte - 0x30);
          digits++;
        }
        // `.` and `..` have no digits; the directory's own descriptor is not a socket.
        if (digits > 0 && number !== directory) found.push(number);
        offset += length;
      }
    }
  }

  /**
   * The port of `fd`'s own (`getsockname`) or peer (`getpeername`) address when it is an IPv4 or
   * IPv6 socket, else null (not a socket, no peer, another family); the address stays in the buffer.
   */
  #port(nr: number, fd: bigint): number | null {
    const libc = this.#options.libc;
    new DataView(this.#length.buffer).setUint32(0, SOCKADDR_BYTES, true);
    const result = libc.syscall(nr, fd, libc.addressOf(this.#address), libc.addressOf(this.#length));
    if (result !== 0n) return null;
    const family = new DataView(this.#address.buffer).getUint16(0, true);
    if (family !== AF_INET && family !== AF_INET6) return null;
    return new DataView(this.#address.buffer).getUint16(2, false);
  }

  /** The peer address `#port` left in the buffer, as hex. */
  #addressKey(): string {
    const family = new DataView(this.#address.buffer).getUint16(0, true);
    const bytes = family === AF_INET ? this.#address.subarray(4, 8) : this.#address.subarray(8, 24);
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }
}
