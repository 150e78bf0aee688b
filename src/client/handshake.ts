import { InitializeResultSchema } from "../protocol/mod.ts";
import type { InitializeResult } from "../protocol/mod.ts";
import { ClientError } from "./client_error.ts";
import { TransportLost, WebSocketLink } from "./web_socket_link.ts";
import type { LinkOptions } from "./web_socket_link.ts";

/** What a connection attempt needs: the link's options, and the session to create or resume. */
export interface SessionRequest extends LinkOptions {
  /** Sent in `initialize`; the server only logs it. */
  readonly clientName: string;
  /** The session to resume (§3.7), or null for a new one. */
  readonly resumeSessionId: string | null;
}

/**
 * Opens a link and runs the handshake (§3.1): `initialize`, then `initialized`. A failed handshake
 * closes the link; the error is the server's RpcError or a `ClientError`. The upgrade and then
 * `initialize` may each take `timeoutMs`, and `signal` abandons either.
 */
export async function openSession(
  url: string,
  request: SessionRequest,
): Promise<{ link: WebSocketLink; session: InitializeResult }> {
  const link = await WebSocketLink.open(url, request);
  // A server that takes the upgrade and never answers would hold the caller forever, and a
  // reconnecting client past its reconnectTimeoutMs.
  const deadline = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal === undefined ? deadline : AbortSignal.any([deadline, request.signal]);
  try {
    const reply = await link.peer.call("initialize", {
      clientName: request.clientName,
      resumeSessionId: request.resumeSessionId,
      ...(request.binaryFrames ? { binaryFrames: true } : {}),
    }, signal).catch((error: unknown) => {
      if (deadline.aborted && error === deadline.reason) {
        throw new ClientError("notConnected", `${url} did not answer initialize in ${request.timeoutMs} ms`);
      }
      // TransportLost is the client's internal signal for a call in flight; a handshake that never
      // completed is a connection that was not made.
      if (error instanceof TransportLost) {
        throw new ClientError(
          "notConnected",
          `cannot connect to ${url}: ${error.message} during initialize`,
          {
            cause: error,
          },
        );
      }
      throw error;
    });
    const parsed = InitializeResultSchema.safeParse(reply);
    if (!parsed.success) throw new ClientError("badReply", "initialize answered with an invalid result");
    link.peer.notify("initialized", {});
    // A server of ours says how large a message it takes; a larger request would end the
    // connection, and a request sent again after each reconnect would end every one.
    const maxMessageBytes = parsed.data.environmentInfo.extensions?.limits.maxMessageBytes;
    if (maxMessageBytes !== undefined) link.peer.limitRequests(maxMessageBytes);
    return { link, session: parsed.data };
  } catch (error) {
    link.close();
    throw error;
  }
}
