import type { ServerOptions } from "./options.ts";

/**
 * The options with the largest message the server really takes: `--max-message-bytes`, or the
 * runtime's own WebSocket limit where that is lower (Deno's 64 MiB), so that what
 * `environmentInfo` advertises is what a client may send. A stdio line has no runtime limit.
 * `lowered` is the requested size when it had to give way.
 */
export function withMessageLimit(
  options: ServerOptions,
  webSocketMessageLimit: number | null,
): { options: ServerOptions; lowered: number | null } {
  if (options.listen.kind !== "websocket" || webSocketMessageLimit === null) {
    return { options, lowered: null };
  }
  if (options.maxMessageBytes <= webSocketMessageLimit) return { options, lowered: null };
  return {
    options: { ...options, maxMessageBytes: webSocketMessageLimit },
    lowered: options.maxMessageBytes,
  };
}
