/**
 * The `sock_diag` answers the launcher reads the host's unix socket table from, on fixed bytes:
 * what a name holds stays in it, whatever it is.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import type { BoundSocket } from "../../src/launcher/host_sockets.ts";
import { Sys } from "../../src/launcher/sys.ts";
import {
  parseUnixDiag,
  UnixDiagError,
  unixDiagRequest,
  unixSocketTable,
} from "../../src/launcher/unix_diag.ts";
import { openLibc } from "../../src/runtime/mod.ts";
import { tempDir } from "../helpers/temp_dir.ts";

/** A netlink message: nlmsghdr of `type` and `body`, padded to 4 bytes. */
function message(type: number, body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(align(16 + body.length));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 16 + body.length, true);
  view.setUint16(4, type, true);
  view.setUint16(6, 2, true); // NLM_F_MULTI
  view.setUint32(8, 1, true);
  bytes.set(body, 16);
  return bytes;
}

/** An attribute: nlattr of `kind` and `value`, padded to 4 bytes. */
function attribute(kind: number, value: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(align(4 + value.length));
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 4 + value.length, true);
  view.setUint16(2, kind, true);
  bytes.set(value, 4);
  return bytes;
}

/** A unix_diag_msg of a socket, with its name (bytes as bound, the NUL after) and file. */
function socket(
  options: { type: number; state: number; inode: number; name?: Uint8Array; vfs?: [number, number] },
): Uint8Array {
  const head = new Uint8Array(16);
  const view = new DataView(head.buffer);
  head[0] = 1;
  head[1] = options.type;
  head[2] = options.state;
  view.setUint32(4, options.inode, true);
  const parts: Uint8Array[] = [head];
  if (options.name !== undefined) parts.push(attribute(0, options.name));
  if (options.vfs !== undefined) {
    const vfs = new Uint8Array(8);
    new DataView(vfs.buffer).setUint32(0, options.vfs[0], true);
    new DataView(vfs.buffer).setUint32(4, options.vfs[1], true);
    parts.push(attribute(1, vfs));
  }
  return message(20, concat(parts));
}

function named(text: string): Uint8Array {
  return concat([new TextEncoder().encode(text), new Uint8Array(1)]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

function align(n: number): number {
  return (n + 3) & ~3;
}

const DONE = message(3, new Uint8Array(4));
/** The kernel's dev_t of 8:1 (major above 20 bits of minor). */
const SDA1 = (8 << 20) | 1;

describe("unixDiagRequest", () => {
  test("asks for a dump of every unix socket in any state, with its name and file", () => {
    expect([...unixDiagRequest(7)]).toEqual([
      40,
      0,
      0,
      0,
      20,
      0,
      0x01,
      0x03,
      7,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0xff,
      0xff,
      0xff,
      0xff,
      0,
      0,
      0,
      0,
      3,
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
    ]);
  });
});

describe("parseUnixDiag", () => {
  test("keeps a name's newlines and spaces whole, and its file", () => {
    const forged = "/w/in/z\n0000000000000000: 00000002 00000000 00010000 0001 01 9 /w/in/dev.sock";
    const found: BoundSocket[] = [];
    const bytes = concat([
      socket({ type: 1, state: 10, inode: 1201, name: named("/w/in/s\nx"), vfs: [77, SDA1] }),
      socket({ type: 1, state: 7, inode: 1202, name: named(forged), vfs: [78, SDA1] }),
      DONE,
    ]);
    expect(parseUnixDiag(bytes, found)).toBe(true);
    expect(found).toEqual([
      { path: "/w/in/s\nx", inode: "1201", serving: true, file: { major: 8, minor: 1, inode: 77 } },
      { path: forged, inode: "1202", serving: false, file: { major: 8, minor: 1, inode: 78 } },
    ]);
  });

  test("counts listening and datagram sockets as serving, a connection accepted there not", () => {
    const found: BoundSocket[] = [];
    const bytes = concat([
      socket({ type: 2, state: 7, inode: 1, name: named("/run/log"), vfs: [5, SDA1] }),
      socket({ type: 5, state: 10, inode: 2, name: named("/run/seq"), vfs: [6, SDA1] }),
      socket({ type: 1, state: 1, inode: 3, name: named("/run/seq"), vfs: [6, SDA1] }),
    ]);
    expect(parseUnixDiag(bytes, found)).toBe(false);
    expect(found.map((socket) => [socket.path, socket.serving])).toEqual([
      ["/run/log", true],
      ["/run/seq", true],
      ["/run/seq", false],
    ]);
  });

  test("leaves out unbound, abstract and relative names, and keeps the bytes of one that is not UTF-8", () => {
    const found: BoundSocket[] = [];
    const bytes = concat([
      socket({ type: 1, state: 10, inode: 1 }),
      socket({ type: 1, state: 10, inode: 2, name: new TextEncoder().encode("\0/tmp/.X11-unix/X0") }),
      socket({ type: 1, state: 10, inode: 3, name: named("x0 /w/ws/./daemon.sock"), vfs: [9, SDA1] }),
      socket({ type: 1, state: 10, inode: 4, name: Uint8Array.of(0x2f, 0xff, 0), vfs: [10, SDA1] }),
      socket({ type: 1, state: 10, inode: 5, name: named("/a b/agent.1"), vfs: [11, 0x00b00003] }),
      DONE,
    ]);
    expect(parseUnixDiag(bytes, found)).toBe(true);
    expect(found).toEqual([
      { path: "/\udcff", inode: "4", serving: true, file: { major: 8, minor: 1, inode: 10 } },
      { path: "/a b/agent.1", inode: "5", serving: true, file: { major: 11, minor: 3, inode: 11 } },
    ]);
  });

  test("takes a name the kernel sent without its NUL, and one bound with no file left as fileless", () => {
    const found: BoundSocket[] = [];
    parseUnixDiag(socket({ type: 1, state: 10, inode: 6, name: new TextEncoder().encode("/run/a") }), found);
    expect(found).toEqual([{ path: "/run/a", inode: "6", serving: true, file: null }]);
  });

  test("throws on the kernel's error answer, and on a message that runs past the bytes", () => {
    const refusal = new Uint8Array(4);
    new DataView(refusal.buffer).setInt32(0, -13, true);
    let caught: unknown = null;
    try {
      parseUnixDiag(message(2, refusal), []);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnixDiagError);
    expect((caught as UnixDiagError).errno).toBe(13);
    const whole = socket({ type: 1, state: 10, inode: 1, name: named("/run/a"), vfs: [1, SDA1] });
    expect(() => parseUnixDiag(whole.subarray(0, whole.length - 4), [])).toThrow(UnixDiagError);
    const badAttribute = whole.slice();
    new DataView(badAttribute.buffer).setUint16(32, 200, true);
    expect(() => parseUnixDiag(badAttribute, [])).toThrow(UnixDiagError);
  });
});

describe("unixSocketTable", () => {
  test("lists a socket of this host by its whole name and the file it bound", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "s\n0: 0 0 10000 1 1 9 /run/x.sock");
    mkdirSync(dirname(path), { recursive: true });
    const server = createServer();
    await new Promise<void>((ready) => server.listen(path, ready));
    try {
      const table = unixSocketTable(new Sys(await openLibc("bun", process.arch)));
      expect(table).not.toBeNull();
      const { dev, ino } = statSync(path);
      // The C library's dev_t: 12 bits of major from bit 8, the minor's low 8 bits below them.
      const file = {
        major: (dev >> 8) & 0xfff,
        minor: (dev & 0xff) | ((dev >> 12) & 0xfff00),
        inode: ino % 2 ** 32,
      };
      expect(table?.filter((socket) => socket.path.startsWith(dir.path))).toEqual([
        { path, inode: expect.any(String), serving: true, file },
      ]);
      expect(table?.some((socket) => socket.path === "/run/x.sock" && socket.inode === "9")).toBe(false);
    } finally {
      await new Promise<void>((done) => server.close(() => done()));
    }
  });
});
