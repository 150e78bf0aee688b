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
}

/**
 * Splits a byte stream into frames: a UTF-8 header line ending in `\n`, optionally followed by a
 * payload of raw bytes whose length the header states. Empty lines are skipped. A header or
 * payload that the end of the stream cuts short is dropped: the writer died mid-message.
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
    const take = (tail: Uint8Array): Uint8Array => {
      const whole = joinViews(parts, partsLength, tail);
      parts = [];
      partsLength = 0;
      return whole;
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
            parts.push(chunk.subarray(offset));
            partsLength += chunk.length - offset;
            return;
          }
          const line = decoder.decode(take(chunk.subarray(offset, newline)));
          offset = newline + 1;
          if (line === "") continue;
          const header = options.parseHeader(line);
          const due = options.payloadBytes(header);
          if (due === null) controller.enqueue({ header, payload: null });
          else if (due === 0) controller.enqueue({ header, payload: new Uint8Array(0) });
          else current = { header, due };
        }
      },
    });
  }
}
