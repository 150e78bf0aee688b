/** Capability-token checks of PROTOCOL.md §1.4: SHA-256 digests compared in constant time. */

const BEARER_PREFIX = "exec-server.bearer.";

/** The configured token digest; the token itself is never kept. */
export class TokenAuth {
  readonly #digest: Uint8Array;

  constructor(digestHex: string) {
    this.#digest = hexToBytes(digestHex);
  }

  /** A verifier from a raw token (the content of `--ws-token-file`). */
  static async fromToken(token: string): Promise<TokenAuth> {
    return new TokenAuth(bytesToHex(await sha256(token)));
  }

  /** Whether any token presented on the request (header or subprotocol entry) matches. */
  async admits(request: Request): Promise<boolean> {
    const candidates: string[] = [];
    const header = request.headers.get("authorization");
    const bearer = header === null ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
    if (bearer?.[1] !== undefined) candidates.push(bearer[1]);
    for (const entry of offeredProtocols(request)) {
      if (!entry.startsWith(BEARER_PREFIX)) continue;
      const decoded = decodeBase64Url(entry.slice(BEARER_PREFIX.length));
      if (decoded !== null) candidates.push(decoded);
    }
    let admitted = false;
    for (const candidate of candidates) {
      if (constantTimeEqual(await sha256(candidate), this.#digest)) admitted = true;
    }
    return admitted;
  }
}

/** The entries of `Sec-WebSocket-Protocol`, trimmed. */
export function offeredProtocols(request: Request): string[] {
  const header = request.headers.get("sec-websocket-protocol");
  if (header === null) return [];
  return header.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

function decodeBase64Url(text: string): string | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((text.length + 3) % 4));
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (ch) => ch.charCodeAt(0)),
    );
  } catch {
    return null;
  }
}

function hexToBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
