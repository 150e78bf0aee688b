import { describe, expect, test } from "bun:test";
import { connect, createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { findLocalSocket, heldBySandbox, ipBytes } from "../../src/server/local_peer.ts";

describe("local peer", () => {
  test("ipBytes maps IPv4, IPv6 and IPv4-mapped IPv6 to the same 16 bytes where they are equal", () => {
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 127, 0, 0, 1];
    expect([...(ipBytes("127.0.0.1") ?? [])]).toEqual(mapped);
    expect([...(ipBytes("::ffff:127.0.0.1") ?? [])]).toEqual(mapped);
    expect([...(ipBytes("::1") ?? [])]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect([...(ipBytes("[fe80::1:2]") ?? [])]).toEqual([
      0xfe,
      0x80,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      2,
    ]);
    expect([ipBytes("256.0.0.1"), ipBytes("1::2::3"), ipBytes("x"), ipBytes("1:2:3")]).toEqual([
      null,
      null,
      null,
      null,
    ]);
  });

  test("findLocalSocket finds the client end of a loopback connection with its uid, held by no sandbox", async () => {
    for (const host of ["127.0.0.1", "::1"]) {
      const accepted = Promise.withResolvers<Socket>();
      const server = createServer((socket) => accepted.resolve(socket));
      await new Promise<void>((resolve) => server.listen(0, host, resolve));
      const port = (server.address() as AddressInfo).port;
      const client = connect({ host, port });
      await new Promise<void>((resolve) => client.once("connect", resolve));
      const peer = await accepted.promise;
      try {
        const found = await findLocalSocket(
          { address: peer.remoteAddress ?? "", port: peer.remotePort ?? 0 },
          port,
        );
        expect(found?.uid).toBe(process.getuid?.() ?? -1);
        expect(found?.inode).toBeGreaterThan(0);
        expect(await heldBySandbox(found?.inode ?? 0)).toBe(false);
        expect(
          await findLocalSocket({ address: peer.remoteAddress ?? "", port: peer.remotePort ?? 0 }, port + 1),
        )
          .toBeNull();
      } finally {
        client.destroy();
        peer.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }
  });
});
