const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Joins `parts` and `tail` into one array: `tail` itself when nothing is pending, else one copy.
 * Shared by the line and frame splitters, which keep views of chunks until a line completes.
 */
export function joinViews(parts: readonly Uint8Array[], partsLength: number, tail: Uint8Array): Uint8Array {
  if (parts.length === 0) return tail;
  const whole = new Uint8Array(partsLength + tail.length);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  whole.set(tail, offset);
  return whole;
}

/**
 * Splits a byte stream into lines (without `\n` or `\r\n`), decoding each whole line as UTF-8, so
 * a line or a multi-byte character cut at a chunk border comes out whole. An unterminated last
 * line is emitted at the end of the stream.
 *
 * A line that spans chunks is kept as views of them and copied once, when its newline arrives;
 * only the new chunk is searched for that newline. The pipes feeding it hand out a fresh buffer
 * per chunk (Bun, Deno and node:child_process alike), so a view stays valid, and it pins its
 * chunk only until the line completes.
 */
export class LineSplitter extends TransformStream<Uint8Array, string> {
  constructor() {
    const decoder = new TextDecoder();
    let pending: Uint8Array[] = [];
    let pendingLength = 0;
    const emit = (tail: Uint8Array, controller: TransformStreamDefaultController<string>): void => {
      const line = joinViews(pending, pendingLength, tail);
      pending = [];
      pendingLength = 0;
      const end = line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN
        ? line.length - 1
        : line.length;
      controller.enqueue(decoder.decode(line.subarray(0, end)));
    };
    super({
      transform(chunk, controller) {
        let start = 0;
        for (;;) {
          const newline = chunk.indexOf(NEWLINE, start);
          if (newline === -1) break;
          emit(chunk.subarray(start, newline), controller);
          start = newline + 1;
        }
        if (start < chunk.length) {
          pending.push(chunk.subarray(start));
          pendingLength += chunk.length - start;
        }
      },
      flush(controller) {
        if (pendingLength > 0) emit(new Uint8Array(0), controller);
      },
    });
  }
}
