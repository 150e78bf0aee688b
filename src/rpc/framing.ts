/** JSON-RPC message classification (PROTOCOL.md §2.1–2.4), shared by every transport. */
import { idWrittenAsInteger } from "./id_literal.ts";

/** A request id: a string or a safe integer. */
export type RequestId = string | number;

/** What an incoming message turned out to be. */
export type Incoming =
  | { kind: "request"; id: RequestId; method: string; params: unknown; jsonrpc: boolean }
  | { kind: "notification"; method: string; params: unknown; jsonrpc: boolean }
  | { kind: "response"; id: unknown; result: unknown; error: unknown; jsonrpc: boolean }
  | { kind: "parseError"; detail: string };

const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true });

/** Decodes a binary frame; null when it is not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return UTF8_STRICT.decode(bytes);
  } catch {
    return null;
  }
}

/** Classifies one message's text in the order of §2.4. */
export function classifyMessage(text: string): Incoming {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { kind: "parseError", detail: jsonErrorDetail(error, text) };
  }
  const incoming = classifyValue(value);
  if (incoming.kind === "request" && typeof incoming.id === "number" && !idWrittenAsInteger(text)) {
    return { kind: "parseError", detail: ID_PROBLEM };
  }
  return incoming;
}

const ID_PROBLEM = "id must be a string or an integer";

/**
 * Classifies one message that is already parsed (a framed transport parses its header itself). A
 * response keeps its `id`, `result` and `error` members as they came; `result` is `undefined` in an
 * error reply and the other way round.
 */
export function classifyValue(value: unknown): Incoming {
  if (Array.isArray(value)) return { kind: "parseError", detail: "batches are not supported" };
  if (typeof value !== "object" || value === null) {
    return { kind: "parseError", detail: "expected a JSON-RPC object" };
  }
  const message = value as Record<string, unknown>;
  const jsonrpc = Object.hasOwn(message, "jsonrpc");
  if (Object.hasOwn(message, "method")) {
    const method = message["method"];
    if (typeof method !== "string") return { kind: "parseError", detail: "method must be a string" };
    const params = message["params"] ?? null;
    if (!Object.hasOwn(message, "id")) return { kind: "notification", method, params, jsonrpc };
    const id = message["id"];
    if (!isRequestId(id)) return { kind: "parseError", detail: ID_PROBLEM };
    return { kind: "request", id, method, params, jsonrpc };
  }
  if (Object.hasOwn(message, "id") && (Object.hasOwn(message, "result") || Object.hasOwn(message, "error"))) {
    return {
      kind: "response",
      id: message["id"],
      result: message["result"],
      error: message["error"],
      jsonrpc,
    };
  }
  return { kind: "parseError", detail: "expected a request or a notification" };
}

/** Whether a value is a valid id (§2.3). */
export function isRequestId(id: unknown): id is RequestId {
  return typeof id === "string" || (typeof id === "number" && Number.isSafeInteger(id));
}

function jsonErrorDetail(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message);
  if (position) return `invalid JSON at position ${position[1]}`;
  if (text.trim() === "") return "invalid JSON: empty message";
  return `invalid JSON: ${message.replace(/^JSON Parse error: /, "").toLowerCase()}`;
}

/** Results whose JSON text is already known, by identity (see `withKnownJson`). */
const KNOWN_JSON = new WeakMap<object, string>();

/**
 * Records `json` as the JSON text of `result` and returns `result`, so `resultFrame` splices the
 * text in verbatim instead of walking a large result (a whole file as base64) with
 * `JSON.stringify`. The caller vouches that `json` is what `JSON.stringify(result)` gives and
 * that `result` is not changed afterwards.
 */
export function withKnownJson<T extends object>(result: T, json: string): T {
  KNOWN_JSON.set(result, json);
  return result;
}

/** The JSON text recorded for `result` by `withKnownJson`, if any. */
export function knownJsonOf(result: object): string | undefined {
  return KNOWN_JSON.get(result);
}

/**
 * A binary frame's payload: `headroom` bytes before `bytes` in their buffer are free, so that the
 * header can be written there instead of copying the payload into a new frame (a fresh 64 MiB
 * copy cost 23 ms on both runtimes, its page faults mostly).
 */
export interface FramePayload {
  readonly bytes: Uint8Array;
  readonly headroom: number;
}

/** The headroom a reader leaves for a frame header: room for any header with an id of ~200 bytes. */
export const FRAME_HEADROOM = 256;

/** Payloads that a result carries raw in a binary frame (see `withRawBytes`), by identity. */
const RAW_PAYLOADS = new WeakMap<object, FramePayload>();

/**
 * Records `payload` as what `result` stands for on a connection that takes binary frames (§11.12):
 * the engine sends its bytes raw after a header in which `byteLength` replaces the result's base64
 * member. The caller attaches it only for such a connection; elsewhere the result goes as text.
 */
export function withRawBytes<T extends object>(result: T, payload: FramePayload): T {
  RAW_PAYLOADS.set(result, payload);
  return result;
}

/** The payload recorded for `result` by `withRawBytes`. */
export function rawBytesOf(result: unknown): FramePayload | undefined {
  return typeof result === "object" && result !== null ? RAW_PAYLOADS.get(result) : undefined;
}

const NEWLINE = 0x0a;
const UTF8 = new TextEncoder();

/**
 * A binary frame (§11.12): the message's JSON header, a newline, then the payload. The header is
 * JSON without a raw newline (JSON.stringify escapes one inside strings), so the first newline
 * ends it. The header goes into the payload's headroom when it fits, else the frame is a copy.
 */
export function binaryFrame(header: string, payload: FramePayload): Uint8Array {
  const headerBytes = UTF8.encode(header);
  const { bytes, headroom } = payload;
  const headerLength = headerBytes.byteLength + 1;
  if (headerLength <= headroom) {
    const frame = new Uint8Array(
      bytes.buffer,
      bytes.byteOffset - headerLength,
      headerLength + bytes.byteLength,
    );
    frame.set(headerBytes);
    frame[headerBytes.byteLength] = NEWLINE;
    return frame;
  }
  const frame = new Uint8Array(headerLength + bytes.byteLength);
  frame.set(headerBytes);
  frame[headerBytes.byteLength] = NEWLINE;
  frame.set(bytes, headerLength);
  return frame;
}

/** A binary frame taken apart: its header's text and a view of its payload. */
export interface SplitFrame {
  readonly header: string;
  readonly payload: Uint8Array;
}

/** Splits a binary frame made by `binaryFrame`; null when it has no header line or bad UTF-8. */
export function splitBinaryFrame(frame: Uint8Array): SplitFrame | null {
  const end = frame.indexOf(NEWLINE);
  if (end < 0) return null;
  const header = decodeUtf8(frame.subarray(0, end));
  return header === null ? null : { header, payload: frame.subarray(end + 1) };
}

/** Serializes a result reply; `jsonrpc` mirrors the client (§2.2). */
export function resultFrame(id: RequestId, result: unknown, jsonrpc: boolean): string {
  const known = typeof result === "object" && result !== null ? KNOWN_JSON.get(result) : undefined;
  if (known !== undefined) {
    // The same text JSON.stringify gives for the object forms below.
    const head = jsonrpc ? '{"jsonrpc":"2.0","id":' : '{"id":';
    return head + JSON.stringify(id) + ',"result":' + known + "}";
  }
  return jsonrpc ? JSON.stringify({ jsonrpc: "2.0", id, result }) : JSON.stringify({ id, result });
}

/** Serializes an error reply. */
export function errorFrame(id: RequestId, error: unknown, jsonrpc: boolean): string {
  return jsonrpc ? JSON.stringify({ jsonrpc: "2.0", id, error }) : JSON.stringify({ id, error });
}

/** Serializes a notification. */
export function notificationFrame(method: string, params: unknown, jsonrpc: boolean): string {
  return jsonrpc ? JSON.stringify({ jsonrpc: "2.0", method, params }) : JSON.stringify({ method, params });
}

/** Serializes a notification whose params are already JSON; `method` needs no escaping. */
export function notificationJsonFrame(method: string, paramsJson: string, jsonrpc: boolean): string {
  const prefix = jsonrpc
    ? `{"jsonrpc":"2.0","method":"${method}","params":`
    : `{"method":"${method}","params":`;
  return prefix + paramsJson + "}";
}

/** Serializes a request. */
export function requestFrame(id: RequestId, method: string, params: unknown, jsonrpc: boolean): string {
  return jsonrpc
    ? JSON.stringify({ jsonrpc: "2.0", id, method, params })
    : JSON.stringify({ id, method, params });
}
