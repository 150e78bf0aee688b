/**
 * A request left unsent because its text is larger than the other side takes
 * (`RpcPeer.limitRequests`): a WebSocket server ends the connection at such a message, and a
 * client that sends it again after reconnecting only repeats that.
 */
export class RequestTooLarge extends Error {
  readonly method: string;
  readonly bytes: number;
  readonly limit: number;

  constructor(method: string, bytes: number, limit: number) {
    super(
      `${method} request of ${bytes} bytes is over the server's message limit of ${limit} bytes; it was not sent`,
    );
    this.name = "RequestTooLarge";
    this.method = method;
    this.bytes = bytes;
    this.limit = limit;
  }
}

/**
 * The UTF-8 length of `text` when it is above `limit`, else null. A UTF-16 unit takes one to
 * three bytes (a surrogate pair four for two), so only a text between a third of the limit and
 * the limit needs counting.
 */
export function utf8LengthAbove(text: string, limit: number): number | null {
  if (text.length > limit) return utf8Length(text);
  if (text.length * 3 <= limit) return null;
  const length = utf8Length(text);
  return length > limit ? length : null;
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        index++;
      } else {
        bytes += 3;
      }
    } else bytes += 3;
  }
  return bytes;
}
