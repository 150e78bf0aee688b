import { describe, expect, test } from "bun:test";
import {
  binaryFrame,
  classifyMessage,
  decodeUtf8,
  errorFrame,
  notificationFrame,
  rawBytesOf,
  resultFrame,
  splitBinaryFrame,
  withRawBytes,
} from "../../src/rpc/mod.ts";

const ID_PROBLEM = { kind: "parseError", detail: "id must be a string or an integer" } as const;

describe("classifyMessage", () => {
  test("classifyMessage reports invalid JSON with a detail", () => {
    const result = classifyMessage("{nope");
    expect(result.kind).toBe("parseError");
    expect(result.kind === "parseError" ? result.detail : "").toMatch(/^invalid JSON/);
  });

  test("classifyMessage reports an empty message as invalid JSON", () => {
    const result = classifyMessage("");
    expect(result.kind === "parseError" ? result.detail : "").toMatch(/^invalid JSON/);
  });

  test("classifyMessage refuses a batch", () => {
    expect(classifyMessage('[{"id":1,"method":"initialize"}]')).toEqual({
      kind: "parseError",
      detail: "batches are not supported",
    });
  });

  test("classifyMessage refuses an empty batch", () => {
    expect(classifyMessage("[]")).toEqual({ kind: "parseError", detail: "batches are not supported" });
  });

  test.each(["1", '"text"', "null", "true"])("classifyMessage refuses the non-object %s", (text) => {
    expect(classifyMessage(text)).toEqual({ kind: "parseError", detail: "expected a JSON-RPC object" });
  });

  // §2.3: JSON.parse reads these as integers, but an id written so cannot be echoed as it came,
  // and the Codex reference refuses each as a parse error (found by test/e2e/protocol_fuzz.ts).
  test.each(["1.0", "1e2", "1E2", "-1.0", "0.0", "10.0", "1.5e1", "1e-0", "1e+0"])(
    "classifyMessage refuses the id %s, an integer written with a fraction or an exponent",
    (id) => {
      expect(classifyMessage(`{"id":${id},"method":"m"}`)).toEqual(ID_PROBLEM);
      expect(classifyMessage(`{"method":"m", "params":{"id":1},"id" : ${id} }`)).toEqual(ID_PROBLEM);
    },
  );

  test("classifyMessage judges the top-level id by how it is written, not ids nested in params", () => {
    expect(classifyMessage('{"id":3,"method":"m","params":{"id":1.0,"a":["q\\"\\\\",{"id":2e1}]}}')).toEqual({
      kind: "request",
      id: 3,
      method: "m",
      params: { id: 1, a: ['q"\\', { id: 20 }] },
      jsonrpc: false,
    });
    // The member JSON.parse keeps is the last of a repeated name, and a name may be escaped.
    expect(classifyMessage('{"id":1.0,"method":"m","id":4}')).toMatchObject({ kind: "request", id: 4 });
    expect(classifyMessage('{"id":4,"method":"m","\\u0069d":4.0}')).toEqual(ID_PROBLEM);
    // `-0` is an integer literal; it is echoed as 0, as the reference does.
    const negativeZero = classifyMessage('{"id":-0,"method":"m"}');
    expect([negativeZero.kind, JSON.stringify(negativeZero.kind === "request" ? negativeZero.id : null)])
      .toEqual(["request", "0"]);
  });

  test("classifyMessage refuses a method that is not a string", () => {
    expect(classifyMessage('{"id":1,"method":5}').kind).toBe("parseError");
  });

  test.each([
    ["a number", 7],
    ["a string", "7"],
    ["a negative integer", -3],
    ["the largest safe integer", Number.MAX_SAFE_INTEGER],
    ["the smallest safe integer", -Number.MAX_SAFE_INTEGER],
    ["an empty string", ""],
  ])("classifyMessage accepts %s as an id", (_name, id) => {
    expect(classifyMessage(JSON.stringify({ id, method: "m", params: { a: 1 } }))).toEqual({
      kind: "request",
      id,
      method: "m",
      params: { a: 1 },
      jsonrpc: false,
    });
  });

  test.each([
    ["a fraction", "1.5"],
    ["true", "true"],
    ["false", "false"],
    ["null", "null"],
    ["an object", "{}"],
    ["an array", "[1]"],
    ["2^53", "9007199254740992"],
    ["-2^53", "-9007199254740992"],
    ["a huge number", "1e300"],
  ])("classifyMessage refuses %s as an id", (_name, idText) => {
    expect(classifyMessage(`{"id":${idText},"method":"m"}`)).toEqual(ID_PROBLEM);
  });

  test("classifyMessage treats missing params as null", () => {
    expect(classifyMessage('{"id":1,"method":"m"}')).toEqual({
      kind: "request",
      id: 1,
      method: "m",
      params: null,
      jsonrpc: false,
    });
  });

  test("classifyMessage reads a message without id as a notification", () => {
    expect(classifyMessage('{"method":"initialized","params":{}}')).toEqual({
      kind: "notification",
      method: "initialized",
      params: {},
      jsonrpc: false,
    });
  });

  test("classifyMessage notes a jsonrpc member whatever its value", () => {
    expect(classifyMessage('{"jsonrpc":"1.0","id":"a","method":"m"}')).toEqual({
      kind: "request",
      id: "a",
      method: "m",
      params: null,
      jsonrpc: true,
    });
  });

  test("classifyMessage reads a result object as a client response", () => {
    expect(classifyMessage('{"id":1,"result":{}}')).toEqual({
      kind: "response",
      id: 1,
      result: {},
      error: undefined,
      jsonrpc: false,
    });
  });

  test("classifyMessage reads an error object as a client response", () => {
    expect(classifyMessage('{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}')).toEqual({
      kind: "response",
      id: 1,
      result: undefined,
      error: { code: 1, message: "x" },
      jsonrpc: true,
    });
  });

  test("classifyMessage refuses an object that is neither request nor response", () => {
    expect(classifyMessage('{"id":1}').kind).toBe("parseError");
    expect(classifyMessage('{"result":1}').kind).toBe("parseError");
    expect(classifyMessage("{}").kind).toBe("parseError");
  });
});

describe("frames", () => {
  test("resultFrame omits jsonrpc for a client that sent none", () => {
    expect(JSON.parse(resultFrame(7, { a: 1 }, false))).toEqual({ id: 7, result: { a: 1 } });
  });

  test("resultFrame carries jsonrpc 2.0 for a client that sent it", () => {
    expect(JSON.parse(resultFrame("7", {}, true))).toEqual({ jsonrpc: "2.0", id: "7", result: {} });
  });

  test("errorFrame keeps the id and the error object", () => {
    expect(JSON.parse(errorFrame(-1, { code: -32600, message: "m" }, false))).toEqual({
      id: -1,
      error: { code: -32600, message: "m" },
    });
  });

  test("notificationFrame mirrors jsonrpc", () => {
    expect(JSON.parse(notificationFrame("process/closed", { seq: 1 }, true))).toEqual({
      jsonrpc: "2.0",
      method: "process/closed",
      params: { seq: 1 },
    });
  });
});

describe("decodeUtf8", () => {
  test("decodeUtf8 decodes valid UTF-8", () => {
    expect(decodeUtf8(new TextEncoder().encode('{"é":1}'))).toBe('{"é":1}');
  });

  test("decodeUtf8 returns null for invalid UTF-8", () => {
    expect(decodeUtf8(new Uint8Array([0x7b, 0xff, 0x7d]))).toBeNull();
  });
});

describe("binary frames (§11.12)", () => {
  test("a frame is its header, a newline, then the payload, and splits back into both", () => {
    const payload = new Uint8Array([0x0a, 0, 0xff, 0x0a]);
    const frame = binaryFrame('{"id":"é\\n","result":{"byteLength":4}}', { bytes: payload, headroom: 0 });
    expect(new TextDecoder().decode(frame.subarray(0, frame.indexOf(0x0a))))
      .toBe('{"id":"é\\n","result":{"byteLength":4}}');
    const split = splitBinaryFrame(frame);
    expect(split?.header).toBe('{"id":"é\\n","result":{"byteLength":4}}');
    expect([...(split?.payload ?? [])]).toEqual([...payload]);
  });

  test("a frame without a header line or with a header that is not UTF-8 does not split", () => {
    expect(splitBinaryFrame(new Uint8Array([0x7b, 0x7d]))).toBeNull();
    expect(splitBinaryFrame(new Uint8Array([0xff, 0x0a, 1]))).toBeNull();
  });

  test("a header that fits the payload's headroom is written before it, in the same buffer", () => {
    const buffer = new Uint8Array(16 + 3);
    const bytes = buffer.subarray(16);
    bytes.set([7, 8, 9]);
    const frame = binaryFrame('{"id":1}', { bytes, headroom: 16 });
    expect(frame.buffer).toBe(buffer.buffer);
    expect(new TextDecoder().decode(frame)).toBe('{"id":1}\n\x07\x08\x09');
    const tight = binaryFrame('{"id":1}', { bytes, headroom: 8 });
    expect(tight.buffer).not.toBe(buffer.buffer);
    expect([...tight]).toEqual([...frame]);
  });

  test("raw bytes are recorded by identity and only for objects", () => {
    const bytes = { bytes: new Uint8Array([1]), headroom: 0 };
    const result = withRawBytes({ dataBase64: "AQ==" }, bytes);
    expect(rawBytesOf(result)).toBe(bytes);
    expect(rawBytesOf({ dataBase64: "AQ==" })).toBeUndefined();
    expect(rawBytesOf(null)).toBeUndefined();
  });
});
