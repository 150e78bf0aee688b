import { describe, expect, test } from "bun:test";
import { withMessageLimit } from "../../src/server/message_limit.ts";
import { defaultOptions } from "../../src/server/mod.ts";

const DENO_LIMIT = 64 * 1024 * 1024 - 64 * 1024;

describe("withMessageLimit", () => {
  test("lowers --max-message-bytes of a WebSocket server to the runtime's own limit", () => {
    const requested = defaultOptions();
    expect(withMessageLimit(requested, DENO_LIMIT)).toEqual({
      options: { ...requested, maxMessageBytes: DENO_LIMIT },
      lowered: requested.maxMessageBytes,
    });
  });

  test("keeps a size below the runtime's limit, and any size where the runtime has none", () => {
    const small = { ...defaultOptions(), maxMessageBytes: 1024 };
    expect(withMessageLimit(small, DENO_LIMIT)).toEqual({ options: small, lowered: null });
    expect(withMessageLimit(defaultOptions(), null)).toEqual({ options: defaultOptions(), lowered: null });
  });

  test("keeps the size of a stdio server, whose lines no WebSocket limits", () => {
    const stdio = { ...defaultOptions(), listen: { kind: "stdio" as const } };
    expect(withMessageLimit(stdio, DENO_LIMIT)).toEqual({ options: stdio, lowered: null });
  });
});
