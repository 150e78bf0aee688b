/**
 * File names as the kernel has them, bytes and all, in strings. A name need not be UTF-8, and
 * decoding it the usual way turns each stray byte into U+FFFD, which names another file: the launcher
 * then looks for a host socket where it is not (`host_sockets.ts`). Here a byte that is not part of
 * a UTF-8 character becomes the lone surrogate U+DC80–U+DCFF (Python's `surrogateescape`), which no
 * decoded text holds, and encoding turns it back into that byte.
 */

const UTF8 = new TextDecoder("utf-8", { fatal: true });
const ENCODER = new TextEncoder();
const ESCAPED = /[\udc80-\udcff]/;

/** The string of a name's bytes, stray bytes escaped. */
export function decodePathBytes(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    // Some byte is not UTF-8: decoded character by character below.
  }
  let text = "";
  for (let at = 0; at < bytes.length;) {
    const length = charLength(bytes, at);
    if (length === 0) {
      text += String.fromCharCode(0xdc00 + (bytes[at] ?? 0));
      at += 1;
    } else {
      text += UTF8.decode(bytes.subarray(at, at + length));
      at += length;
    }
  }
  return text;
}

/** The bytes of a name `decodePathBytes` made (any other string's UTF-8). */
export function encodePathBytes(text: string): Uint8Array {
  if (!ESCAPED.test(text)) return ENCODER.encode(text);
  const parts: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0xdc80 && code <= 0xdcff) parts.push(code - 0xdc00);
    else parts.push(...ENCODER.encode(char));
  }
  return Uint8Array.from(parts);
}

/** A name's bytes with the NUL a system call takes after them. */
export function cPathBytes(text: string): Uint8Array {
  const bytes = encodePathBytes(text);
  const terminated = new Uint8Array(bytes.length + 1);
  terminated.set(bytes);
  return terminated;
}

/** The length of the UTF-8 character at `at`, or 0 when its bytes are not one. */
function charLength(bytes: Uint8Array, at: number): number {
  const first = bytes[at] ?? 0;
  if (first < 0x80) return 1;
  const length = first >= 0xc2 && first < 0xe0
    ? 2
    : first >= 0xe0 && first < 0xf0
    ? 3
    : first >= 0xf0 && first < 0xf5
    ? 4
    : 0;
  if (length === 0 || at + length > bytes.length) return 0;
  try {
    UTF8.decode(bytes.subarray(at, at + length));
    return length;
  } catch {
    return 0;
  }
}
