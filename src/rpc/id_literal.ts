/**
 * How a message's top-level `id` is written (PROTOCOL.md §2.3). `JSON.parse` reads `1.0`, `1e2`
 * and `-1.0` as the integers 1, 100 and -1, but such an id cannot be echoed as it came (`-1.0`
 * would come back as the parse-error id -1), and the Codex reference refuses each as a parse
 * error. So a numeric id must be written as an integer literal: an optional `-` and digits.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const INTEGER_LITERAL = /^-?[0-9]+$/;

/**
 * Whether the `id` member that `JSON.parse` keeps (the last one of that name) of the object that
 * `text` holds is written as an integer literal. `text` is valid JSON whose value is an object
 * with a numeric `id`; the walk skips strings with `indexOf`, so a large `params` costs little.
 */
export function idWrittenAsInteger(text: string): boolean {
  let written: string | undefined;
  let index = skipSpace(text, text.indexOf("{") + 1);
  while (index < text.length && text.charCodeAt(index) === QUOTE) {
    const nameEnd = stringEnd(text, index);
    const rawName = text.slice(index, nameEnd);
    const name = rawName.includes("\\") ? JSON.parse(rawName) as string : rawName.slice(1, -1);
    index = skipSpace(text, skipSpace(text, nameEnd) + 1); // past the colon
    const valueEnd = skipValue(text, index);
    if (name === "id") written = text.slice(index, valueEnd).trim();
    index = skipSpace(text, valueEnd);
    if (text[index] !== ",") break;
    index = skipSpace(text, index + 1);
  }
  return written !== undefined && INTEGER_LITERAL.test(written);
}

function skipSpace(text: string, from: number): number {
  let index = from;
  while (index < text.length && " \t\n\r".includes(text[index] as string)) index++;
  return index;
}

/** The index after the string that starts with the quote at `start`. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** The index after the value that starts at `start`: a string, a container or a literal. */
function skipValue(text: string, start: number): number {
  const first = text[start];
  if (first === '"') return stringEnd(text, start);
  if (first !== "{" && first !== "[") {
    let index = start;
    while (index < text.length && !",}] \t\n\r".includes(text[index] as string)) index++;
    return index;
  }
  let depth = 0;
  let index = start;
  while (index < text.length) {
    const char = text.charCodeAt(index);
    if (char === QUOTE) {
      index = stringEnd(text, index);
      continue;
    }
    if (char === 0x7b || char === 0x5b) depth++;
    else if (char === 0x7d || char === 0x5d) {
      depth--;
      if (depth === 0) return index + 1;
    }
    index++;
  }
  return index;
}
