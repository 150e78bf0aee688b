/**
 * Base64 codecs of the wire (PROTOCOL.md notation: padded out, padding optional in, no whitespace).
 * They need no Node module: the client runs in browsers, where only the fallbacks exist.
 */

/** The part of node:buffer's `Buffer` used here; Bun and Deno have it as a global. */
interface BufferCodec {
  from(text: string, encoding: "base64"): Uint8Array;
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: "base64"): string };
}
// A global lookup keeps the browser bundle free of a Buffer polyfill; the shape is node:buffer's.
const NODE_BUFFER = (globalThis as { Buffer?: BufferCodec }).Buffer;

const BASE64_SHAPE = /^[A-Za-z0-9+/]*={0,2}$/;

/** `Uint8Array.fromBase64` (ES2026), where the runtime has it. */
type FromBase64 = (text: string, options: { lastChunkHandling: "loose" }) => Uint8Array;
const fromBase64: FromBase64 | undefined = (Uint8Array as { fromBase64?: FromBase64 }).fromBase64;

/** Why `text` is not acceptable base64, or null when it is. */
export function base64Problem(text: string): string | null {
  if (!BASE64_SHAPE.test(text)) {
    const bad = text.search(/[^A-Za-z0-9+/=]/);
    if (bad !== -1) return `invalid character at position ${bad}`;
    return "padding in the middle";
  }
  const body = text.replace(/=+$/, "");
  if (body.length % 4 === 1) return "invalid length";
  if (text.length !== body.length && text.length % 4 !== 0) return "invalid padding";
  if (!lastCharacterCanonical(text)) {
    return `non-zero unused bits in the last character at position ${body.length - 1}`;
  }
  return null;
}

/**
 * Whether the last letter (before any padding) leaves the bits it does not carry zero, as the one
 * encoding of those bytes does (RFC 4648 §3.5). Decoders drop such bits, so `YW==` would read as
 * `a` like `YQ==`; the Codex reference refuses it, and so does this server. Looks at two or three
 * characters only: a regular expression over a large text costs more than decoding it.
 */
function lastCharacterCanonical(text: string): boolean {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61) end--;
  const unused = end % 4 === 2 ? 0b1111 : end % 4 === 3 ? 0b11 : 0;
  if (unused === 0) return true;
  const value = ALPHABET_INDEX[text.charCodeAt(end - 1)] ?? 0;
  return (value & unused) === 0;
}

/** Each base64 letter's value, by character code. */
const ALPHABET_INDEX: readonly number[] = (() => {
  const index: number[] = [];
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) index[alphabet.charCodeAt(i)] = i;
  return index;
})();

/** `Uint8Array.prototype.setFromBase64` (ES2026), where the runtime has it. */
type SetFromBase64 = (
  this: Uint8Array,
  text: string,
  options: { lastChunkHandling: "loose" },
) => { read: number; written: number };
const setFromBase64: SetFromBase64 | undefined =
  (Uint8Array.prototype as { setFromBase64?: SetFromBase64 }).setFromBase64;

/**
 * Gives memory of exactly `byteLength` bytes for a decode to fill, or null for a fresh array.
 * What it gives is the decode's answer when the text is valid, and is lost to it when not.
 */
export type DecodeTarget = (byteLength: number) => Uint8Array | null;

/**
 * Decodes base64 (padded or not); throws `TypeError` with the problem when invalid. Valid input
 * is decoded without a regular expression over it (V8 matches `BASE64_SHAPE` at about 170 MB/s,
 * slower than the decoding); only a rejected input is examined for its problem. With `target`,
 * the bytes go into the memory it gives where the runtime can decode into given memory: a fresh
 * 64 KiB array costs more than the decoding itself (Deno 176 against 7 µs per 64 KiB, Bun 61
 * against 7, most of it zeroing and page faults).
 */
export function decodeBase64(text: string, target?: DecodeTarget): Uint8Array {
  const decoded = decodeChecked(text, target);
  if (decoded !== null) return decoded;
  const problem = base64Problem(text);
  if (problem !== null) throw new TypeError(problem);
  // The checks disagree only if a decoder is more lenient than assumed: the slow path decides.
  if (NODE_BUFFER === undefined) return decodeInBrowser(text);
  const fallback = NODE_BUFFER.from(text, "base64");
  return new Uint8Array(fallback.buffer, fallback.byteOffset, fallback.byteLength);
}

/** How many bytes valid base64 of this shape decodes to, or -1 when its length or padding is off. */
function decodedLength(text: string): number {
  let body = text.length;
  if (body > 0 && text.charCodeAt(body - 1) === 61) body--;
  if (body > 0 && text.charCodeAt(body - 1) === 61) body--;
  if (body % 4 === 1) return -1;
  if (body !== text.length && text.length % 4 !== 0) return -1;
  return Math.floor((body * 3) / 4);
}

/**
 * The bytes of `text` when it is valid base64, else null. Both decoders skip whitespace (and
 * node:buffer's skips any foreign character and reads `-` and `_` as base64url), so a valid
 * input is one that decodes to exactly the length its shape promises, without base64url letters.
 */
function decodeChecked(text: string, target: DecodeTarget | undefined): Uint8Array | null {
  const expected = decodedLength(text);
  if (expected === -1) return null;
  if (!lastCharacterCanonical(text)) return null;
  const given = setFromBase64 === undefined ? null : (target?.(expected) ?? null);
  let bytes: Uint8Array;
  if (given !== null && given.byteLength === expected && setFromBase64 !== undefined) {
    try {
      // `read` short of the text would mean the memory filled first: longer than the shape says.
      const { read, written } = setFromBase64.call(given, text, { lastChunkHandling: "loose" });
      return read === text.length && written === expected ? given : null;
    } catch {
      return null;
    }
  } else if (fromBase64 !== undefined) {
    try {
      bytes = fromBase64(text, { lastChunkHandling: "loose" });
    } catch {
      return null;
    }
  } else if (NODE_BUFFER !== undefined) {
    if (text.includes("-") || text.includes("_")) return null;
    const decoded = NODE_BUFFER.from(text, "base64");
    bytes = new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
  } else {
    return null;
  }
  return bytes.byteLength === expected ? bytes : null;
}

/** `Uint8Array.prototype.toBase64` (ES2026), where the runtime has it. */
type ToBase64 = (this: Uint8Array) => string;
const toBase64: ToBase64 | undefined = (Uint8Array.prototype as { toBase64?: ToBase64 }).toBase64;

/** Encodes bytes as padded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  // The built-in is the fastest on both runtimes (64 KiB chunks: about 4.5× node:buffer's
  // speed on Deno, 1.5× on Bun); node:buffer is the fallback, far faster than a btoa loop.
  if (toBase64 !== undefined) return toBase64.call(bytes);
  if (NODE_BUFFER !== undefined) {
    return NODE_BUFFER.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  }
  let binary = "";
  for (let offset = 0; offset < bytes.length; offset += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(offset, offset + 0x8000));
  }
  return btoa(binary);
}

/** Decodes checked base64 without node:buffer. */
function decodeInBrowser(text: string): Uint8Array {
  if (fromBase64 !== undefined) return fromBase64(text, { lastChunkHandling: "loose" });
  const binary = atob(text.replace(/=+$/, ""));
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}
