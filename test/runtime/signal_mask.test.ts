import { describe, expect, test } from "bun:test";
import { signalsInMask } from "../../src/runtime/signal_mask.ts";

describe("signalsInMask", () => {
  test("reads the signal numbers of a /proc status mask, bit n - 1 for signal n", () => {
    expect(signalsInMask("0000000000000000")).toEqual([]);
    // A bare Deno started by a script's `&`: SIGQUIT from the script, SIGPIPE from Deno.
    expect(signalsInMask("0000000000001004")).toEqual([3, 13]);
    expect(signalsInMask("0000000000000001")).toEqual([1]);
    expect(signalsInMask("0000000040000000")).toEqual([31]);
  });

  test("leaves out the real-time signals, which have no name to listen to", () => {
    // glibc's posix_spawn leaves its two internal signals (32, 33) ignored in a child.
    expect(signalsInMask("0000000180000004")).toEqual([3]);
    expect(signalsInMask("ffffffffffffffff")).toHaveLength(31);
  });
});
