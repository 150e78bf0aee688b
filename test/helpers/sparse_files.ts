import { expect } from "bun:test";
import * as fs from "node:fs/promises";

const MIB = 1 << 20;
/** A sparse file's size and its data: 4 KiB at the start, 8 KiB inside, 4 KiB before a trailing hole. */
const SPARSE_SIZE = 32 * MIB;
const SPARSE_DATA: ReadonlyArray<readonly [number, number]> = [[0, 4096], [12 * MIB, 8192], [20 * MIB, 4096]];

/** Writes a 32 MiB file at `path` with three small runs of data and holes between and after them. */
export async function writeSparse(path: string): Promise<void> {
  const file = await fs.open(path, "w");
  try {
    for (const [offset, length] of SPARSE_DATA) {
      // Zero bytes inside the data too: a run of data is copied whole.
      const bytes = new Uint8Array(length).map((_, i) => (offset / 4096 + i * 31) & 255);
      await file.write(bytes, 0, length, offset);
    }
    await file.truncate(SPARSE_SIZE);
  } finally {
    await file.close();
  }
}

/**
 * Expects `copy` to hold the bytes of `source` and no more allocated blocks than it (a few more
 * for the file system's own bookkeeping), where the file system keeps the source's holes at all.
 */
export async function expectSparseCopy(source: string, copy: string): Promise<void> {
  const [from, to] = [await fs.stat(source), await fs.stat(copy)];
  expect(to.size).toBe(from.size);
  expect(Buffer.compare(await fs.readFile(source), await fs.readFile(copy))).toBe(0);
  if (from.blocks * 512 < from.size) expect(to.blocks).toBeLessThanOrEqual(from.blocks + 8);
}
