import type { Runtime } from "../runtime/mod.ts";
import { decodeUtf8 } from "../rpc/mod.ts";
import { Connection } from "./connection.ts";
import type { ServerContext } from "./server_context.ts";

const NEWLINE = 0x0a;
const UTF8 = new TextEncoder();

/**
 * Serves one connection over stdin/stdout, one JSON message per line (PROTOCOL.md §1.7).
 * Resolves when stdin ends (or the connection must close); the caller then shuts down.
 */
export async function serveStdio(
  runtime: Runtime,
  context: ServerContext,
  maxMessageBytes: number,
): Promise<void> {
  let backlog = 0;
  let writing: Promise<void> = Promise.resolve();
  const ended = Promise.withResolvers<void>();
  const connection: Connection = new Connection({
    send(text) {
      const bytes = UTF8.encode(text + "\n");
      backlog += bytes.byteLength;
      writing = writing.then(() => runtime.writeStdout(bytes)).then(() => {
        backlog -= bytes.byteLength;
        if (backlog === 0) connection.drained();
      }, (error: unknown) => context.log.error("stdout write failed", error));
    },
    backlog: () => backlog,
    close: () => ended.resolve(),
    // One connection: cutting it off ends the server, as stdin's end does.
    terminate: () => ended.resolve(),
    description: "stdio",
  }, context);

  const reader = runtime.stdin().getReader();
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  let skipping = false;
  const readLoop = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let start = 0;
      for (let index = value.indexOf(NEWLINE); index !== -1; index = value.indexOf(NEWLINE, start)) {
        const piece = value.subarray(start, index);
        start = index + 1;
        if (skipping) {
          skipping = false;
          parts = [];
          partBytes = 0;
          continue;
        }
        if (partBytes + piece.byteLength > maxMessageBytes) {
          connection.receiveUndecodable(`message exceeds ${maxMessageBytes} bytes`);
          parts = [];
          partBytes = 0;
          continue;
        }
        parts.push(piece);
        deliver(connection, concat(parts, partBytes + piece.byteLength));
        parts = [];
        partBytes = 0;
      }
      if (start < value.byteLength && !skipping) {
        const rest = value.slice(start);
        if (partBytes + rest.byteLength > maxMessageBytes) {
          connection.receiveUndecodable(`message exceeds ${maxMessageBytes} bytes`);
          skipping = true;
          parts = [];
          partBytes = 0;
        } else {
          parts.push(rest);
          partBytes += rest.byteLength;
        }
      }
    }
    if (partBytes > 0 && !skipping) deliver(connection, concat(parts, partBytes));
  })();
  await Promise.race([readLoop, ended.promise]);
  connection.closed();
  await writing;
}

function deliver(connection: Connection, line: Uint8Array): void {
  const end = line.byteLength > 0 && line[line.byteLength - 1] === 0x0d
    ? line.byteLength - 1
    : line.byteLength;
  const text = decodeUtf8(line.subarray(0, end));
  if (text === null) {
    connection.receiveUndecodable("invalid UTF-8");
    return;
  }
  if (text.trim() === "") return;
  connection.receive(text);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
