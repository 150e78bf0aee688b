import { describe, expect, test } from "bun:test";
import { errnoError } from "../../src/fs/error_map.ts";
import { MAX_PATH_URI_UNITS } from "../../src/protocol/paths.ts";
import { parsePathUri, pathToUri, RpcError } from "../../src/protocol/mod.ts";

function refusal(value: string, field = "cwd"): { code: number; message: string } {
  try {
    parsePathUri(value, field);
  } catch (error) {
    if (error instanceof RpcError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error(`${value} was accepted`);
}

describe("parsePathUri", () => {
  test.each([
    ["file:///home/dev/app", "/home/dev/app"],
    ["FILE:///home/dev/app", "/home/dev/app"],
    ["file://localhost/home/dev", "/home/dev"],
    ["file://LOCALHOST/home/dev", "/home/dev"],
    ["file:/abs/path", "/abs/path"],
    ["file:///home/dev/app/a%20b.txt", "/home/dev/app/a b.txt"],
    ["file:///caf%C3%A9", "/café"],
    ["file:///", "/"],
    ["/home/dev/app/a b.txt", "/home/dev/app/a b.txt"],
    ["/home/dev/a%20b", "/home/dev/a%20b"],
    ["/~/x", "/~/x"],
    ["//a///b/", "/a/b"],
    ["/a/./b/.", "/a/b"],
    ["/a/b/../c", "/a/c"],
    ["/../../x", "/x"],
    ["file:///a/link/../b", "/a/b"],
    ["/", "/"],
  ])("parsePathUri accepts %s as %s", (input, expected) => {
    expect(parsePathUri(input, "cwd")).toBe(expected);
  });

  test.each([
    ["rel/dir", 'cwd must be an absolute path or file URI, got "rel/dir"'],
    ["./x", 'cwd must be an absolute path or file URI, got "./x"'],
    ["", 'cwd must be an absolute path or file URI, got ""'],
    ["http://h/x", 'cwd must be an absolute path or file URI, got "http://h/x"'],
    ["file:rel", 'cwd must be an absolute path or file URI, got "file:rel"'],
    ["file://build-7/x", 'cwd URI file://build-7/x is not valid on this host: remote host "build-7"'],
  ])("parsePathUri refuses %s", (input, message) => {
    expect(refusal(input)).toEqual({ code: -32602, message });
  });

  test.each([
    ["a query", "file:///a?b=1"],
    ["a fragment", "file:///a#b"],
    ["%2F", "file:///a%2Fb"],
    ["%2f", "file:///a%2fb"],
    ["%00", "file:///a%00b"],
    ["invalid UTF-8", "file:///a%FFb"],
    ["a bad escape", "file:///a%zz"],
  ])("parsePathUri refuses a URI with %s", (_name, input) => {
    const error = refusal(input, "sandbox.cwd");
    expect(error.code).toBe(-32602);
    expect(error.message.startsWith(`sandbox.cwd URI ${input} is not valid: `)).toBe(true);
  });

  test("parsePathUri refuses a NUL byte in a native path", () => {
    const error = refusal("/a\0b", "path");
    expect(error.code).toBe(-32602);
    expect(error.message.startsWith("path URI /a\0b is not valid: ")).toBe(true);
  });

  test.each([
    ["a native path", "/a/x\udc00y", "DC00", 4],
    ["a file URI", "file:///a/x\ud800y", "D800", 11],
    ["a file URI with percent-escapes", "file:///a%20b/\udbff", "DBFF", 14],
    ["a reversed pair", "/a/\udc00\ud800", "DC00", 3],
  ])(
    "parsePathUri refuses a lone surrogate in %s instead of naming the U+FFFD file",
    (_name, input, unit, index) => {
      expect(refusal(input, "path")).toEqual({
        code: -32602,
        message:
          `path URI ${input} is not valid: lone surrogate U+${unit} at index ${index}, which is not valid Unicode`,
      });
    },
  );

  test("parsePathUri accepts a surrogate pair", () => {
    expect(parsePathUri("/a/\u{1f600}", "path")).toBe("/a/\u{1f600}");
  });

  test("a PathUri past MAX_PATH_URI_UNITS is refused as the kernel refuses a path past PATH_MAX", () => {
    const tooLong = `/tmp/${"a/../".repeat(MAX_PATH_URI_UNITS / 5)}x`;
    expect(parsePathUri(tooLong.slice(0, MAX_PATH_URI_UNITS), "path").length).toBeLessThan(4096);
    for (const value of [tooLong, `file://${tooLong}`]) {
      let refused: unknown = null;
      try {
        parsePathUri(value, "path");
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(RpcError);
      expect((refused as RpcError).toWire()).toEqual(errnoError("ENAMETOOLONG").toWire());
    }
  });

  test("parsePathUri names the dotted field in its message", () => {
    expect(refusal("x", "sandbox.cwd")).toEqual({
      code: -32602,
      message: 'sandbox.cwd must be an absolute path or file URI, got "x"',
    });
  });
});

describe("pathToUri", () => {
  test.each([
    ["/home/dev/app", "file:///home/dev/app"],
    ["/a b", "file:///a%20b"],
    ["/a#b", "file:///a%23b"],
    ["/é", "file:///%C3%A9"],
    ["/a%b", "file:///a%25b"],
    ["/a?b", "file:///a%3Fb"],
    ["/-._~!$&'()*+,;=:@", "file:///-._~!$&'()*+,;=:@"],
    ["/", "file:///"],
  ])("pathToUri encodes %s as %s", (path, uri) => {
    expect(pathToUri(path)).toBe(uri);
  });

  test("pathToUri output parses back to the same path", () => {
    const path = "/tmp/a b/#c/é%/x";
    expect(parsePathUri(pathToUri(path), "path")).toBe(path);
  });
});
