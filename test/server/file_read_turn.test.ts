import { describe, expect, test } from "bun:test";
import { FILE_TOO_LARGE } from "../../src/fs/mod.ts";
import type { FsParams, LargeWait } from "../../src/fs/mod.ts";
import { ErrorCode, RpcError } from "../../src/protocol/mod.ts";
import { readFileInTurn, SMALL_FILE_BYTES } from "../../src/server/file_read_turn.ts";
import { recordedWaits } from "../helpers/recorded_waits.ts";

/**
 * A file of `size` bytes read as the fs side reads it: in pieces, waiting as `large` says before it
 * holds more than `large.heldBytes`; each wait and each read is recorded.
 */
function fileOf(size: number, failure: RpcError | null = null) {
  const events: string[] = [];
  const waits = recordedWaits(events);
  const read = async (params: FsParams["fs/readFile"], large: LargeWait): Promise<number> => {
    const limit = params.maxBytes ?? 64 * SMALL_FILE_BYTES;
    events.push("read");
    if (failure !== null) throw failure;
    if (size > limit) {
      throw new RpcError(
        ErrorCode.InvalidRequest,
        "InvalidInput",
        `${FILE_TOO_LARGE}: limit is ${limit} bytes`,
      );
    }
    if (size > large.heldBytes) await large.wait();
    return size;
  };
  return { events, waits, read };
}

const PATH = "/file" as FsParams["fs/readFile"]["path"];

describe("readFileInTurn", () => {
  test("a small file is read in the connection's turn without a slot", async () => {
    const file = fileOf(SMALL_FILE_BYTES);
    expect(await readFileInTurn({ path: PATH }, file.waits, file.read)).toBe(SMALL_FILE_BYTES);
    expect(file.events).toEqual(["turn", "read"]);
  });

  test("a larger file waits for a slot within its one read, with the request's own limit", async () => {
    const file = fileOf(SMALL_FILE_BYTES + 1);
    expect(await readFileInTurn({ path: PATH }, file.waits, file.read)).toBe(SMALL_FILE_BYTES + 1);
    expect(file.events).toEqual(["turn", "read", "slot"]);
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
    expect(limited.events).toEqual(["turn", "read"]);
    const missing = fileOf(
      0,
      new RpcError(ErrorCode.NotFound, "NotFound", "No such file or directory (os error 2)"),
    );
    await expect(readFileInTurn({ path: PATH }, missing.waits, missing.read)).rejects.toThrow("os error 2");
    expect(missing.events).toEqual(["turn", "read"]);
  });

  test("a file whose reads consume it loses no byte to the wait for a slot", async () => {
    // A stream of 3 MiB that hands each byte out once, as a tracefs pipe or a FUSE stream does.
    const stream = Buffer.alloc(3 * SMALL_FILE_BYTES);
    for (let index = 0; index < stream.length; index++) stream[index] = index % 251;
    let offset = 0;
    let opens = 0;
    const events: string[] = [];
    const waits = {
      turn: () => Promise.resolve(),
      slot: () => {
        events.push(`slot after ${offset}`);
        return Promise.resolve();
      },
    };
    // Reads as the fs side does: in pieces, waiting before it holds more than it may.
    const read = async (params: FsParams["fs/readFile"], large: LargeWait): Promise<Buffer> => {
      opens++;
      const limit = params.maxBytes ?? Number.POSITIVE_INFINITY;
      const pieces: Buffer[] = [];
      let held = 0;
      let waited = false;
      while (offset < stream.length) {
        if (!waited && held > large.heldBytes) {
          await large.wait();
          waited = true;
        }
        const piece = stream.subarray(offset, offset + 65_536);
        offset += piece.length;
        held += piece.length;
        pieces.push(piece);
        if (held > limit) {
          throw new RpcError(
            ErrorCode.InvalidRequest,
            "InvalidInput",
            `${FILE_TOO_LARGE}: limit is ${limit} bytes`,
          );
        }
      }
      return Buffer.concat(pieces);
    };
    const bytes = await readFileInTurn({ path: PATH }, waits, read);
    expect({ opens, equal: bytes.equals(stream), events }).toEqual({
      opens: 1,
      equal: true,
      events: [`slot after ${SMALL_FILE_BYTES + 65_536}`],
    });
  });
});
