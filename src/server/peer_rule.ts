import type { PeerAddress } from "../runtime/mod.ts";
import { findLocalSocket, ipBytes, socketHolders } from "./local_peer.ts";
import type { LocalSocket } from "./local_peer.ts";
import { isLoopbackName } from "./host_check.ts";
import type { SockDiag } from "./sock_diag.ts";

/** What the peer rule needs to know of the server. */
export interface PeerRuleOptions {
  /** The port this listener is bound to. */
  readonly serverPort: number;
  /** The uid the server runs as. */
  readonly ownUid: number;
  /** A token is required (it is checked apart), or `--allow-local-users` was given. */
  readonly admitOtherUsers: boolean;
  /** A token is required: a client that presents it needs no visible holder of its socket. */
  readonly tokenRequired: boolean;
  /** The exact socket lookup of the kernel, or null where it cannot be used (no FFI). */
  readonly diag: SockDiag | null;
  /** The host name or address the listener was given (`--listen`). */
  readonly listenHost: string;
}

/**
 * The rule for peers on this host (docs/security.md), like a unix socket's: a sandboxed process
 * is refused whatever its policy and whatever it presents; another local user is refused unless
 * a token is configured or `--allow-local-users` opens it; a loopback peer that cannot be found
 * in the kernel's socket tables, or whose socket no process holds, is refused, since it cannot be
 * told apart. Resolves with the
 * reason for a refusal, or null.
 */
export async function refuseLocalPeer(
  peer: PeerAddress | null,
  options: PeerRuleOptions,
): Promise<string | null> {
  if (peer === null) return null;
  const socket = diagLookup(peer, options) ?? await findLocalSocket(peer, options.serverPort);
  if (socket === null) {
    return isLoopbackName(peer.address) || peer.address.startsWith("::ffff:127.")
      ? "unidentified loopback peer"
      : null;
  }
  const holders = await socketHolders(socket.inode);
  if (holders === "sandboxed") return "sandboxed peer";
  if (socket.uid !== options.ownUid && !options.admitOtherUsers) return `peer of uid ${socket.uid}`;
  // A socket no process holds is one a sandbox may have parked in a unix socket's queue while it
  // is looked for. Without a token that is refused wherever the server can see every holder: root
  // sees all processes, any user sees its own.
  const seesHolders = options.ownUid === 0 || socket.uid === options.ownUid;
  if (holders === "none found" && seesHolders && !options.tokenRequired) {
    return "loopback peer held by no process";
  }
  return null;
}

/** Wildcard listen addresses: the peer may have connected to any address of the host. */
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

/**
 * The peer's socket by the kernel's exact lookup (`sock_diag.ts`), for each address it is likely
 * to have connected to: the listener's own, else its own address (a local client reaching an
 * address of this host leaves from it). Null sends the caller to the scan of /proc/net/tcp, which
 * finds a local peer whatever it connected to, so a miss here costs time, never a wrong answer.
 */
function diagLookup(peer: PeerAddress, options: PeerRuleOptions): LocalSocket | null {
  const local = ipBytes(peer.address);
  if (options.diag === null || local === null) return null;
  const names = WILDCARDS.has(options.listenHost)
    ? [peer.address]
    : options.listenHost === "localhost"
    ? ["127.0.0.1", "::1"]
    : [options.listenHost];
  const targets = names.map(ipBytes).filter((bytes): bytes is Uint8Array => bytes !== null);
  try {
    for (const remote of targets) {
      const found = options.diag.find({
        local,
        localPort: peer.port,
        remote,
        remotePort: options.serverPort,
      });
      if (found !== null) return found;
    }
  } catch {
    // The kernel refused the lookup (netlink blocked, say): the scan answers instead.
  }
  return null;
}
