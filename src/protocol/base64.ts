import { Buffer } from "node:buffer";

/** Base64 codecs of the wire (PROTOCOL.md notation: padded out, padding optional in, no whitespace). */

const BASE64_SHAPE = /^[A-Za-z0-9+/]*={0,2}$/;

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
  return null;
}

/** Decodes base64 (padded or not); throws `TypeError` with the problem when invalid. */
export function decodeBase64(text: string): Uint8Array {
  const problem = base64Problem(text);
  if (problem !== null) throw new TypeError(problem);
  const decoded = Buffer.from(text, "base64");
  return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
}

/** `Uint8Array.prototype.toBase64` (ES2026), where the runtime has it. */
type ToBase64 = (this: Uint8Array) => string;
const toBase64: ToBase64 | undefined = (Uint8Array.prototype as { toBase64?: ToBase64 }).toBase64;

/** Encodes bytes as padded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  // The built-in is the fastest on both runtimes (64 KiB chunks: about 4.5× node:buffer's
  // speed on Deno, 1.5× on Bun); node:buffer is the fallback, far faster than a btoa loop.
  if (toBase64 !== undefined) return toBase64.call(bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
