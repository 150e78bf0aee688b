import { describe, expect, test } from "bun:test";
import { FILE_TOO_LARGE } from "../../src/fs/mod.ts";
import type { FsParams } from "../../src/fs/mod.ts";
import { ErrorCode, RpcError } from "../../src/protocol/mod.ts";
import { readFileInTurn, SMALL_FILE_BYTES } from "../../src/server/file_read_turn.ts";

/** Reads `size` bytes as the fs side would, recording each read's limit and each wait. */
function fileOf(size: number, failure: RpcError | null = null) {
  const events: string[] = [];
  const waits = {
    turn: () => {
      events.push("turn");
      return Promise.resolve();
    },
    slot: () => {
      events.push("slot");
      return Promise.resolve();
    },
  };
  const read = (params: FsParams["fs/readFile"]): Promise<number> => {
    const limit = params.maxBytes ?? 64 * SMALL_FILE_BYTES;
    events.push(`read ${params.maxBytes ?? "null"}`);
    if (failure !== null) return Promise.reject(failure);
    if (size > limit) {
      return Promise.reject(
        new RpcError(ErrorCode.InvalidRequest, "InvalidInput", `${FILE_TOO_LARGE}: limit is ${limit} bytes`),
      );
    }
    return Promise.resolve(size);
  };
  return { events, waits, read };
}

const PATH = "/file" as FsParams["fs/readFile"]["path"];

describe("readFileInTurn", () => {
  test("a small file is read in the connection's turn without a slot", async () => {
    const file = fileOf(SMALL_FILE_BYTES);
    expect(await readFileInTurn({ path: PATH }, file.waits, file.read)).toBe(SMALL_FILE_BYTES);
    expect(file.events).toEqual(["turn", `read ${SMALL_FILE_BYTES}`]);
  });

  test("a larger file is read again with a slot and the request's own limit", async () => {
    const file = fileOf(SMALL_FILE_BYTES + 1);
    expect(await readFileInTurn({ path: PATH }, file.waits, file.read)).toBe(SMALL_FILE_BYTES + 1);
    expect(file.events).toEqual(["turn", `read ${SMALL_FILE_BYTES}`, "slot", "read null"]);
    const limited = fileOf(3 * SMALL_FILE_BYTES);
    const refused = readFileInTurn(
      { path: PATH, maxBytes: 2 * SMALL_FILE_BYTES },
      limited.waits,
      limited.read,
    );
    await expect(refused).rejects.toThrow(`${FILE_TOO_LARGE}: limit is ${2 * SMALL_FILE_BYTES} bytes`);
  });

  test("a request limited to a small file, or another error, reads once", async () => {
    const limited = fileOf(10);
    expect(await readFileInTurn({ path: PATH, maxBytes: 100 }, limited.waits, limited.read)).toBe(10);
    expect(limited.events).toEqual(["turn", "read 100"]);
    const missing = fileOf(
      0,
      new RpcError(ErrorCode.NotFound, "NotFound", "No such file or directory (os error 2)"),
    );
    await expect(readFileInTurn({ path: PATH }, missing.waits, missing.read)).rejects.toThrow("os error 2");
    expect(missing.events).toEqual(["turn", `read ${SMALL_FILE_BYTES}`]);
  });
});
