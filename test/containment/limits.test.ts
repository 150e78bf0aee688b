import { describe, expect, test } from "bun:test";
import { NO_LIMITS, resolveLimits } from "../../src/containment/mod.ts";
import { RpcError } from "../../src/protocol/mod.ts";

const ALL = { limits: { memoryBytes: true, pids: true, cpuSeconds: true } };
const DEFAULTS = { memoryBytes: 1024, pids: 10, cpuSeconds: null };

describe("resolveLimits", () => {
  test("resolveLimits takes each member of the request over the default", () => {
    expect(resolveLimits({ pids: 3, memoryBytes: null }, DEFAULTS, ALL)).toEqual({
      memoryBytes: 1024,
      pids: 3,
      cpuSeconds: null,
    });
  });

  test("resolveLimits without a request gives the defaults", () => {
    expect(resolveLimits(null, DEFAULTS, ALL)).toEqual(DEFAULTS);
    expect(resolveLimits(undefined, NO_LIMITS, ALL)).toEqual(NO_LIMITS);
  });

  test("resolveLimits refuses a limit the host cannot enforce with -32602", () => {
    const host = {
      limits: { memoryBytes: false, pids: true, cpuSeconds: true },
      reason: "no memory controller",
    };
    let error: unknown = null;
    try {
      resolveLimits({ memoryBytes: 4096 }, NO_LIMITS, host);
    } catch (caught) {
      error = caught;
    }
    expect(error instanceof RpcError ? error.toWire() : error).toEqual({
      code: -32602,
      message: "limits.memoryBytes cannot be enforced on this host: no memory controller",
      data: { kind: "Unenforceable" },
    });
  });
});
