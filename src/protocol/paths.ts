import { answerError, ErrorCode, invalidParams, RpcError } from "./errors.ts";
import { loneSurrogateIndex, loneSurrogateProblem } from "./lone_surrogate.ts";

const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true });
const UTF8 = new TextEncoder();

/** Bytes that stay literal in URIs we send (PROTOCOL.md §9.3). */
const URI_SAFE = new Uint8Array(128);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-._~!$&'()*+,;=:@") {
  URI_SAFE[ch.charCodeAt(0)] = 1;
}
const HEX = "0123456789ABCDEF";

/**
 * The longest `PathUri` taken, in UTF-16 units: sixteen times the kernel's `PATH_MAX`. A longer
 * one is answered as the kernel answers a path past `PATH_MAX` (ENAMETOOLONG), before it is
 * normalized: normalizing splits it into a string per segment on the server's thread, about
 * 0.3 s for a 4 MiB path that every other client waits out. Only a path whose `.`, `..` and `//`
 * would bring so much text under `PATH_MAX` is answered otherwise than the kernel would
 * (docs/spec_deltas.md).
 */
export const MAX_PATH_URI_UNITS = 16 * 4096;

/**
 * Parses a `PathUri` member (a `file://` URI or a native absolute path) into a lexically normalized
 * native path, or throws -32602 naming `field` (PROTOCOL.md §9.1–9.2).
 */
export function parsePathUri(value: string, field: string): string {
  if (value.length > MAX_PATH_URI_UNITS) {
    throw answerError(ErrorCode.Internal, "OsError", "File name too long (os error 36)", {
      errno: "ENAMETOOLONG",
    });
  }
  if (value.includes("\0")) throw invalidUri(field, value, "it contains a NUL byte");
  // Encoded as UTF-8 it would be U+FFFD, and name another file.
  const lone = loneSurrogateIndex(value);
  if (lone !== -1) throw invalidUri(field, value, loneSurrogateProblem(value, lone));
  if (value.startsWith("/")) return normalizePath(value);
  if (!/^file:/i.test(value)) {
    throw invalidParams(`${field} must be an absolute path or file URI, got ${JSON.stringify(value)}`);
  }
  let rest = value.slice("file:".length);
  if (rest.includes("?")) throw invalidUri(field, value, "a query is not allowed");
  if (rest.includes("#")) throw invalidUri(field, value, "a fragment is not allowed");
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    const authority = slash === -1 ? rest.slice(2) : rest.slice(2, slash);
    if (authority !== "" && authority.toLowerCase() !== "localhost") {
      throw invalidParams(
        `${field} URI ${value} is not valid on this host: remote host ${JSON.stringify(authority)}`,
      );
    }
    rest = slash === -1 ? "" : rest.slice(slash);
  }
  if (!rest.startsWith("/")) {
    throw invalidParams(`${field} must be an absolute path or file URI, got ${JSON.stringify(value)}`);
  }
  return normalizePath(percentDecode(rest, field, value));
}

function percentDecode(text: string, field: string, uri: string): string {
  if (!text.includes("%")) return text;
  const raw = UTF8.encode(text);
  const out = new Uint8Array(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i] ?? 0;
    if (byte !== 0x25) {
      out[length++] = byte;
      continue;
    }
    const hex = String.fromCharCode(raw[i + 1] ?? 0, raw[i + 2] ?? 0);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw invalidUri(field, uri, `bad percent-escape at byte ${i}`);
    const decoded = Number.parseInt(hex, 16);
    if (decoded === 0x2f) throw invalidUri(field, uri, "%2F would change the path's structure");
    if (decoded === 0) throw invalidUri(field, uri, "%00 is not allowed");
    out[length++] = decoded;
    i += 2;
  }
  try {
    return UTF8_STRICT.decode(out.subarray(0, length));
  } catch (cause) {
    throw new RpcError(
      ErrorCode.InvalidParams,
      "InvalidParams",
      `${field} URI ${uri} is not valid: invalid UTF-8`,
      {
        cause,
      },
    );
  }
}

function invalidUri(field: string, uri: string, reason: string): RpcError {
  return invalidParams(`${field} URI ${uri} is not valid: ${reason}`);
}

/** Lexical normalization: collapses `//`, drops `.`, resolves `..` (never above `/`), no trailing `/`. */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  return "/" + parts.join("/");
}

/** Formats a native absolute path as the `file://` URI the server sends (PROTOCOL.md §9.3). */
export function pathToUri(path: string): string {
  let plain = true;
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code >= 128 || URI_SAFE[code] !== 1) {
      plain = false;
      break;
    }
  }
  if (plain) return "file://" + path;
  let out = "file://";
  for (const byte of UTF8.encode(path)) {
    if (byte < 128 && URI_SAFE[byte] === 1) out += String.fromCharCode(byte);
    else out += "%" + HEX[byte >> 4] + HEX[byte & 15];
  }
  return out;
}
