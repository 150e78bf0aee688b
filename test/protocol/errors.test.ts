/**
 * `answerError`: the RpcError a request's answer is made of, built without `Error`'s constructor
 * (no stack trace), is the same error as the constructor's in every other respect.
 */
import { describe, expect, test } from "bun:test";
import { answerError, ErrorCode, invalidParams, invalidRequest, RpcError } from "../../src/protocol/mod.ts";

/** Where the constructor's error was made (Bun adds `line`, `column`, `sourceURL` and the like). */
const WHERE = new Set(["stack", "line", "column", "originalLine", "originalColumn", "sourceURL"]);

/** The own properties and what the error says of itself. */
function facts(error: RpcError): Record<string, unknown> {
  return {
    own: Object.getOwnPropertyNames(error).filter((name) => !WHERE.has(name)).sort(),
    enumerable: Object.keys(error).sort(),
    name: error.name,
    message: error.message,
    code: error.code,
    kind: error.kind,
    errno: error.errno,
    cause: error.cause,
    text: String(error),
    wire: error.toWire(),
    isError: error instanceof Error,
    isRpcError: error instanceof RpcError,
    prototype: Object.getPrototypeOf(error) === RpcError.prototype,
  };
}

describe("answerError", () => {
  test("is the constructor's RpcError, without a stack trace", () => {
    const cause = new Error("the kernel's");
    const options = { errno: "ENOENT", cause };
    const made = answerError(
      ErrorCode.NotFound,
      "NotFound",
      "No such file or directory (os error 2)",
      options,
    );
    const constructed = new RpcError(
      ErrorCode.NotFound,
      "NotFound",
      "No such file or directory (os error 2)",
      options,
    );
    expect(facts(made)).toEqual(facts(constructed));
    expect(made.stack).toBeUndefined();
    const plain = answerError(ErrorCode.InvalidRequest, "UnknownProcess", "unknown process id p");
    expect(facts(plain)).toEqual(
      facts(new RpcError(ErrorCode.InvalidRequest, "UnknownProcess", "unknown process id p")),
    );
    expect(Object.hasOwn(plain, "cause")).toBe(false);
  });

  test("makes the protocol's refusals", () => {
    expect(invalidRequest("UnknownProcess", "unknown process id p").toWire()).toEqual({
      code: -32600,
      message: "unknown process id p",
      data: { kind: "UnknownProcess" },
    });
    expect(invalidParams("bad").toWire()).toEqual({
      code: -32602,
      message: "bad",
      data: { kind: "InvalidParams" },
    });
    expect(invalidRequest("UnknownProcess", "x").stack).toBeUndefined();
    expect(invalidParams("x").stack).toBeUndefined();
  });
});
