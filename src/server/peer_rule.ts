import type { PeerAddress } from "../runtime/mod.ts";
import { findLocalSocket, heldBySandbox } from "./local_peer.ts";
import { isLoopbackName } from "./host_check.ts";

/** What the peer rule needs to know of the server. */
export interface PeerRuleOptions {
  /** The port this listener is bound to. */
  readonly serverPort: number;
  /** The uid the server runs as. */
  readonly ownUid: number;
  /** A token is required (it is checked apart), or `--allow-local-users` was given. */
  readonly admitOtherUsers: boolean;
}

/**
 * The rule for peers on this host (docs/security.md), like a unix socket's: a sandboxed process
 * is refused whatever its policy and whatever it presents; another local user is refused unless
 * a token is configured or `--allow-local-users` opens it; a loopback peer that cannot be found
 * in the kernel's socket tables is refused, since it cannot be told apart. Resolves with the
 * reason for a refusal, or null.
 */
export async function refuseLocalPeer(
  peer: PeerAddress | null,
  options: PeerRuleOptions,
): Promise<string | null> {
  if (peer === null) return null;
  const socket = await findLocalSocket(peer, options.serverPort);
  if (socket === null) {
    return isLoopbackName(peer.address) || peer.address.startsWith("::ffff:127.")
      ? "unidentified loopback peer"
      : null;
  }
  if (await heldBySandbox(socket.inode)) return "sandboxed peer";
  if (socket.uid !== options.ownUid && !options.admitOtherUsers) return `peer of uid ${socket.uid}`;
  return null;
}
