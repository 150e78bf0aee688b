import { describe, expect, test } from "bun:test";
import { LargeListing } from "../../src/fs/mod.ts";
import { ErrorCode, RpcError } from "../../src/protocol/mod.ts";
import { listInTurn } from "../../src/server/listing_turn.ts";
import { recordedWaits } from "../helpers/recorded_waits.ts";

describe("listInTurn", () => {
  test("a small listing is made in the connection's turn without a slot", async () => {
    const events: string[] = [];
    const listing = await listInTurn(recordedWaits(events), () => {
      events.push("small");
      return Promise.resolve("listed");
    }, () => Promise.reject(new Error("not made whole")));
    expect({ listing, events }).toEqual({ listing: "listed", events: ["turn", "small"] });
  });

  test("a large listing is made whole again once it has a slot", async () => {
    const events: string[] = [];
    const listing = await listInTurn(recordedWaits(events), () => {
      events.push("small");
      return Promise.reject(new LargeListing("more than 1048576 bytes"));
    }, () => {
      events.push("whole");
      return Promise.resolve("listed");
    });
    expect({ listing, events }).toEqual({ listing: "listed", events: ["turn", "small", "slot", "whole"] });
  });

  test("any other error of the small listing is the answer", async () => {
    const events: string[] = [];
    const failed = listInTurn(recordedWaits(events), () => {
      events.push("small");
      return Promise.reject(new RpcError(ErrorCode.LimitReached, "LimitReached", "over the reply limit"));
    }, () => Promise.reject(new Error("not made whole")));
    await expect(failed).rejects.toThrow("over the reply limit");
    expect(events).toEqual(["turn", "small"]);
  });
});
