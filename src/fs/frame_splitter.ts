import { joinViews } from "./line_splitter.ts";

const NEWLINE = 0x0a;

/** One message of a framed byte stream: a parsed header line and the raw bytes that followed it. */
export interface Frame<H> {
  readonly header: H;
  /** The `payloadBytes(header)` bytes after the header's newline; null when the header has none. */
  readonly payload: Uint8Array | null;
}

/** How a `FrameSplitter` reads headers. */
export interface FrameSplitterOptions<H> {
  /** Parses (and validates) one header line; a throw errors the stream with that error. */
  readonly parseHeader: (line: string) => H;
  /** How many raw bytes follow `header`, or null when none do. */
  readonly payloadBytes: (header: H) => number | null;
  /** What one frame may hold; unbounded when absent. */
  readonly limits?: FrameLimits;
}

/**
 * The bounds of one frame. Past either, the stream errors at once with `tooLarge(detail)`, and
 * nothing more of the frame is held or read: a writer that never ends a line cannot make the
 * reader buffer without end.
 */
export interface FrameLimits {
  /** The longest header line, in UTF-16 units once decoded (the measure of a reply, PROTOCOL.md §2.8). */
  readonly maxHeaderLength: number;
  /** The largest payload a header may announce. */
  readonly maxPayloadBytes: number;
  readonly tooLarge: (detail: string) => Error;
}

/**
 * Splits a byte stream into frames: a UTF-8 header line ending in `\n`, optionally followed by a
 * payload of raw bytes whose length the header states. Empty lines are skipped. A header or
 * payload that the end of the stream cuts short is dropped: the writer died mid-message. With
 * `limits`, a header line or payload past its bound errors the stream as soon as it is seen.
 *
 * Bytes are kept as views of the incoming chunks and copied once per header or payload, when it
 * is complete; newlines are searched for only in header bytes, never in a payload. The pipes
 * feeding it hand out a fresh buffer per chunk, so the views stay valid.
 */
export class FrameSplitter<H> extends TransformStream<Uint8Array, Frame<H>> {
  constructor(options: FrameSplitterOptions<H>) {
    const decoder = new TextDecoder();
    /** Views of the unfinished header line, or of the unfinished payload. */
    let parts: Uint8Array[] = [];
    let partsLength = 0;
    /** The header whose payload is being collected, and how many bytes of it are still due. */
    let current: { header: H; due: number } | null = null;
    /**
     * The UTF-16 units of the unfinished header line. A line never has more units than bytes, so
     * they are counted (by decoding, as the line itself will be) only once its bytes pass the bound.
     */
    let counted: { decoder: TextDecoder; units: number } | null = null;
    const limits = options.limits;
    const take = (tail: Uint8Array): Uint8Array => {
      const whole = joinViews(parts, partsLength, tail);
      parts = [];
      partsLength = 0;
      counted = null;
      return whole;
    };
    /** Throws `tooLarge` when `piece` takes the header line past its bound (`last`: the line ends). */
    const measure = (piece: Uint8Array, last: boolean): void => {
      if (limits === undefined) return;
      if (counted === null) {
        if (partsLength + piece.length <= limits.maxHeaderLength) return;
        counted = { decoder: new TextDecoder(), units: 0 };
        for (const part of parts) counted.units += counted.decoder.decode(part, { stream: true }).length;
      }
      counted.units += counted.decoder.decode(piece, { stream: !last }).length;
      if (counted.units <= limits.maxHeaderLength) return;
      // Let go of the line at once: the stream is over.
      take(new Uint8Array(0));
      throw limits.tooLarge(`a line of more than ${limits.maxHeaderLength} characters`);
    };
    super({
      transform(chunk, controller) {
        let offset = 0;
        while (offset < chunk.length) {
          if (current !== null) {
            const available = Math.min(current.due, chunk.length - offset);
            const piece = chunk.subarray(offset, offset + available);
            offset += available;
            current.due -= available;
            if (current.due > 0) {
              parts.push(piece);
              partsLength += available;
              continue;
            }
            const header = current.header;
            current = null;
            controller.enqueue({ header, payload: take(piece) });
            continue;
          }
          const newline = chunk.indexOf(NEWLINE, offset);
          if (newline === -1) {
            const piece = chunk.subarray(offset);
            measure(piece, false);
            parts.push(piece);
            partsLength += piece.length;
            return;
          }
          const tail = chunk.subarray(offset, newline);
          measure(tail, true);
          const line = decoder.decode(take(tail));
          offset = newline + 1;
          if (line === "") continue;
          const header = options.parseHeader(line);
          const due = options.payloadBytes(header);
          if (limits !== undefined && due !== null && due > limits.maxPayloadBytes) {
            throw limits.tooLarge(`${due} bytes of data, more than ${limits.maxPayloadBytes}`);
          }
          if (due === null) controller.enqueue({ header, payload: null });
          else if (due === 0) controller.enqueue({ header, payload: new Uint8Array(0) });
          else current = { header, due };
        }
      },
    });
  }
}
