import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { findLocalSocket, ipBytes, isSandboxNamespace, socketHolders } from "../../src/server/local_peer.ts";
import { refuseLocalPeer } from "../../src/server/peer_rule.ts";

const PARK_SOCKET = join(import.meta.dir, "../fixtures/park_socket_fixture.py");

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
        expect(await socketHolders(found?.inode ?? 0)).toBe("unsandboxed");
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

  test("a socket parked in a unix socket's queue is held by no process, and refused without a token", async () => {
    const accepted = Promise.withResolvers<Socket>();
    const server = createServer((socket) => accepted.resolve(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const parker = spawn("python3", [PARK_SOCKET, String(port)], { stdio: ["pipe", "pipe", "inherit"] });
    try {
      const parked = new Promise<void>((resolve, reject) => {
        parker.stdout.on("data", (data: Buffer) => {
          if (data.toString().includes("parked")) resolve();
        });
        parker.once("exit", (code) => reject(new Error(`the parking helper exited with ${code}`)));
      });
      await parked;
      const peer = await accepted.promise;
      const address = { address: peer.remoteAddress ?? "", port: peer.remotePort ?? 0 };
      const found = await findLocalSocket(address, port);
      expect(await socketHolders(found?.inode ?? 0)).toBe("none found");
      const rule = {
        serverPort: port,
        ownUid: process.getuid?.() ?? -1,
        admitOtherUsers: false,
        tokenRequired: false,
        diag: null,
        listenHost: "127.0.0.1",
      };
      expect(await refuseLocalPeer(address, rule)).toBe("loopback peer held by no process");
      // A token is the gate then: a client that presents it may sit where the server cannot look.
      expect(await refuseLocalPeer(address, { ...rule, admitOtherUsers: true, tokenRequired: true }))
        .toBeNull();
      peer.destroy();
    } finally {
      parker.stdin.end();
      await new Promise((resolve) => parker.once("close", resolve));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test("a namespace none of whose mount tables can be read counts as a sandbox's", async () => {
    const sandboxTable = "1 0 0:1 / / ro - tmpfs exec-server-sandbox ro\n";
    const hostTable = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n";
    const tables = (found: Record<string, string | null>) => (task: string) =>
      Promise.resolve(found[task] ?? null);
    // Every process of it ended before its table was read: a sandbox can arrange that.
    expect(await isSandboxNamespace(["10", "11"], tables({}))).toBe(true);
    expect(await isSandboxNamespace([], tables({}))).toBe(true);
    // The first readable table decides.
    expect(await isSandboxNamespace(["10", "11"], tables({ "11": sandboxTable }))).toBe(true);
    expect(await isSandboxNamespace(["10", "11"], tables({ "11": hostTable }))).toBe(false);
    expect(await isSandboxNamespace(["10", "11"], tables({ "10": hostTable, "11": sandboxTable }))).toBe(
      false,
    );
  });

  test("the look for a socket's holders gives the event loop turns while it reads many descriptors", async () => {
    // 3,000 descriptors of this process: a sandbox can hold tens of thousands in each of its processes.
    const held = Array.from({ length: 3_000 }, () => openSync("/dev/null", "r"));
    let turns = 0;
    let looking = true;
    const count = (): void => {
      turns++;
      if (looking) setTimeout(count, 0);
    };
    setTimeout(count, 0);
    try {
      // An inode no process holds: every descriptor is read.
      expect(await socketHolders(1)).toBe("none found");
    } finally {
      looking = false;
      for (const fd of held) closeSync(fd);
    }
    expect(turns).toBeGreaterThanOrEqual(4);
  });
});
