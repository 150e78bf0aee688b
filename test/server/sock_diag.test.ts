import { describe, expect, test } from "bun:test";
import { connect, createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { openLibc } from "../../src/runtime/mod.ts";
import { findLocalSocket, ipBytes } from "../../src/server/local_peer.ts";
import { SockDiag } from "../../src/server/sock_diag.ts";

/** A loopback connection on `host`: the client's socket and the listener's port. */
async function loopback(host: string): Promise<{ client: Socket; port: number; close(): void }> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  const client = connect({ host, port });
  await new Promise<void>((resolve) => client.once("connect", resolve));
  return {
    client,
    port,
    close: () => {
      client.destroy();
      server.close();
    },
  };
}

describe("SockDiag", () => {
  test("it finds the client end of a loopback connection as /proc/net/tcp lists it, on IPv4 and IPv6", async () => {
    const diag = new SockDiag(await openLibc("bun", process.arch));
    for (const host of ["127.0.0.1", "::1"]) {
      const connection = await loopback(host);
      try {
        const address = ipBytes(host) ?? new Uint8Array(16);
        const localPort = connection.client.localPort ?? 0;
        const found = diag.find({ local: address, localPort, remote: address, remotePort: connection.port });
        expect(found).toEqual(await findLocalSocket({ address: host, port: localPort }, connection.port));
        expect(found?.uid).toBe(process.getuid?.() ?? -1);
        // Another remote port is no connection. Nor is the listener's own address and port with a
        // remote end that nothing connected from (the kernel falls back to a listening socket
        // there): null, not the listener.
        expect(diag.find({ local: address, localPort, remote: address, remotePort: connection.port + 1 }))
          .toBeNull();
        expect(diag.find({ local: address, localPort: connection.port, remote: address, remotePort: 9 }))
          .toBeNull();
        // The server's end of the same connection is a socket of its own.
        const accepted = diag.find({
          local: address,
          localPort: connection.port,
          remote: address,
          remotePort: localPort,
        });
        expect(accepted?.inode).not.toBe(found?.inode);
      } finally {
        connection.close();
      }
    }
  });

  test("an IPv4 connection is found by its IPv4-mapped addresses too", async () => {
    const diag = new SockDiag(await openLibc("bun", process.arch));
    const connection = await loopback("127.0.0.1");
    try {
      const mapped = ipBytes("::ffff:127.0.0.1") ?? new Uint8Array(16);
      const localPort = connection.client.localPort ?? 0;
      expect(diag.find({ local: mapped, localPort, remote: mapped, remotePort: connection.port })?.inode)
        .toBeGreaterThan(0);
    } finally {
      connection.close();
    }
  });
});
