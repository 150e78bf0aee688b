import { describe, expect, test } from "bun:test";
import * as fs from "node:fs/promises";
import { errnoError, errnoOf, osError, toFsError } from "../../src/fs/mod.ts";
import { RpcError } from "../../src/protocol/mod.ts";

function facts(error: RpcError): object {
  return { code: error.code, kind: error.kind, message: error.message, errno: error.errno };
}

function nodeError(code: string, errno: number): Error {
  return Object.assign(new Error(`${code}: something, open '/x'`), { code, errno: -errno, syscall: "open" });
}

describe("osError", () => {
  const table: [string, number, number, string, string][] = [
    ["ENOENT", 2, -32004, "NotFound", "No such file or directory (os error 2)"],
    ["EACCES", 13, -32600, "PermissionDenied", "Permission denied (os error 13)"],
    ["EPERM", 1, -32600, "PermissionDenied", "Operation not permitted (os error 1)"],
    ["EINVAL", 22, -32600, "InvalidInput", "Invalid argument (os error 22)"],
    ["EEXIST", 17, -32603, "AlreadyExists", "File exists (os error 17)"],
    ["ENOTDIR", 20, -32603, "NotADirectory", "Not a directory (os error 20)"],
    ["EISDIR", 21, -32603, "IsADirectory", "Is a directory (os error 21)"],
    ["ENOTEMPTY", 39, -32603, "DirectoryNotEmpty", "Directory not empty (os error 39)"],
    ["EROFS", 30, -32603, "ReadOnlyFilesystem", "Read-only file system (os error 30)"],
    ["ELOOP", 40, -32603, "OsError", "Too many levels of symbolic links (os error 40)"],
    ["ENAMETOOLONG", 36, -32603, "OsError", "File name too long (os error 36)"],
    ["ENOSPC", 28, -32603, "OsError", "No space left on device (os error 28)"],
    ["EXDEV", 18, -32603, "OsError", "Invalid cross-device link (os error 18)"],
    ["EBADF", 9, -32603, "OsError", "Bad file descriptor (os error 9)"],
    ["ENXIO", 6, -32603, "OsError", "No such device or address (os error 6)"],
  ];
  for (const [name, number, code, kind, message] of table) {
    test(`maps ${name} per PROTOCOL.md §7.1`, () => {
      expect(facts(osError(nodeError(name, number)))).toEqual({ code, kind, message, errno: name });
      expect(facts(errnoError(name))).toEqual({ code, kind, message, errno: name });
    });
  }

  test("maps a Deno error that has a code but no errno", () => {
    const error = Object.assign(new Error("Bad file descriptor (os error 9)"), { code: "EBADF" });
    expect(facts(osError(error))).toEqual({
      code: -32603,
      kind: "OsError",
      message: "Bad file descriptor (os error 9)",
      errno: "EBADF",
    });
  });

  test("maps an error known only by its `(os error N)` message", () => {
    expect(facts(osError(new Error("Not a directory (os error 20)")))).toEqual({
      code: -32603,
      kind: "NotADirectory",
      message: "Not a directory (os error 20)",
      errno: "ENOTDIR",
    });
  });

  test("keeps the number of an errno it has no text for", () => {
    expect(facts(osError(nodeError("EWEIRD", 200)))).toEqual({
      code: -32603,
      kind: "OsError",
      message: "Unknown error 200 (os error 200)",
      errno: "EWEIRD",
    });
  });

  test("maps an alias to its canonical name", () => {
    expect(facts(osError(nodeError("EWOULDBLOCK", 11)))).toEqual({
      code: -32603,
      kind: "OsError",
      message: "Resource temporarily unavailable (os error 11)",
      errno: "EAGAIN",
    });
  });

  test("maps the real errors of node:fs", async () => {
    const error = await fs.readFile("/nonexistent-exec-server-path").catch((e: unknown) => e);
    expect(facts(osError(error))).toEqual({
      code: -32004,
      kind: "NotFound",
      message: "No such file or directory (os error 2)",
      errno: "ENOENT",
    });
    expect(errnoOf(error)).toBe("ENOENT");
  });

  test("passes an RpcError through and makes anything else an internal error", () => {
    const rpc = new RpcError(-32600, "InvalidInput", "x");
    expect(osError(rpc)).toBe(rpc);
    const internal = osError(new TypeError("boom"));
    expect(facts(internal)).toEqual({
      code: -32603,
      kind: "Internal",
      message: "internal error",
      errno: undefined,
    });
    expect(internal.cause).toBeInstanceOf(TypeError);
  });

  test("toFsError leaves non-OS errors untouched for the dispatcher's log", () => {
    const plain = new TypeError("boom");
    expect(toFsError(plain)).toBe(plain);
    expect(toFsError(nodeError("ENOENT", 2))).toBeInstanceOf(RpcError);
    expect(toFsError(nodeError("ERR_INVALID_ARG_TYPE", 0))).toBeInstanceOf(Error);
  });
});
