const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Splits a byte stream into lines (without `\n` or `\r\n`), decoding each whole line as UTF-8, so
 * a line or a multi-byte character cut at a chunk border comes out whole. An unterminated last
 * line is emitted at the end of the stream.
 */
export class LineSplitter extends TransformStream<Uint8Array, string> {
  constructor() {
    const decoder = new TextDecoder();
    let pending: Uint8Array[] = [];
    let pendingLength = 0;
    const emit = (line: Uint8Array, controller: TransformStreamDefaultController<string>): void => {
      const end = line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN
        ? line.length - 1
        : line.length;
      controller.enqueue(decoder.decode(line.subarray(0, end)));
    };
    const join = (tail: Uint8Array): Uint8Array => {
      if (pending.length === 0) return tail;
      const whole = new Uint8Array(pendingLength + tail.length);
      let offset = 0;
      for (const part of pending) {
        whole.set(part, offset);
        offset += part.length;
      }
      whole.set(tail, offset);
      pending = [];
      pendingLength = 0;
      return whole;
    };
    super({
      transform(chunk, controller) {
        let start = 0;
        for (;;) {
          const newline = chunk.indexOf(NEWLINE, start);
          if (newline === -1) break;
          emit(join(chunk.subarray(start, newline)), controller);
          start = newline + 1;
        }
        if (start < chunk.length) {
          // Copy: the producer may reuse its buffer, and a view would pin all of it.
          const rest = chunk.slice(start);
          pending.push(rest);
          pendingLength += rest.length;
        }
      },
      flush(controller) {
        if (pendingLength > 0) emit(join(new Uint8Array(0)), controller);
      },
    });
  }
}
