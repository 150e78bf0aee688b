/**
 * What the peer check keeps of the host's sandbox namespaces between connections
 * (`src/server/sandbox_witnesses.ts`): a sandbox's namespace, while the task whose mount table
 * showed it is still seen in it, and nothing else.
 */
import { describe, expect, test } from "bun:test";
import { SandboxWitnesses } from "../../src/server/sandbox_witnesses.ts";

describe("sandbox witnesses", () => {
  test("a sandbox's namespace is known while its witness is seen in it", () => {
    const witnesses = new SandboxWitnesses();
    witnesses.record("mnt:[1]", true, "10");
    expect(witnesses.known("mnt:[1]", ["11", "10"])).toBe(true);
    // The witness ended (or moved): the table is read again.
    expect(witnesses.known("mnt:[1]", ["11"])).toBe(false);
    expect(witnesses.known("mnt:[2]", ["10"])).toBe(false);
  });

  test("a namespace that is not a sandbox's, or whose tables could not be read, is not kept", () => {
    const witnesses = new SandboxWitnesses();
    witnesses.record("mnt:[1]", false, "10");
    expect(witnesses.known("mnt:[1]", ["10"])).toBe(false);
    // Counted as a sandbox's for that look only: no task showed it.
    witnesses.record("mnt:[2]", true, null);
    expect(witnesses.known("mnt:[2]", ["20"])).toBe(false);
    // A namespace read again as not a sandbox's is forgotten.
    witnesses.record("mnt:[3]", true, "30");
    witnesses.record("mnt:[3]", false, "31");
    expect(witnesses.known("mnt:[3]", ["30", "31"])).toBe(false);
    expect(witnesses.size).toBe(0);
  });

  test("a look forgets the namespaces it did not see", () => {
    const witnesses = new SandboxWitnesses();
    witnesses.record("mnt:[1]", true, "10");
    witnesses.record("mnt:[2]", true, "20");
    witnesses.keepOnly((namespace) => namespace === "mnt:[2]");
    expect(witnesses.known("mnt:[1]", ["10"])).toBe(false);
    expect(witnesses.known("mnt:[2]", ["20"])).toBe(true);
  });
});
