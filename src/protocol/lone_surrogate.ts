/**
 * A JSON string may spell a UTF-16 surrogate without its pair (`"\udc00"`). Such a string has no
 * UTF-8 form: the runtimes' encoders write U+FFFD in its place, so a path, argument or variable
 * that holds one would reach the OS as another (PROTOCOL.md §2.4, §9.1).
 */

/** Where `text` first holds a surrogate without its pair, or -1 when it is well-formed. */
export function loneSurrogateIndex(text: string): number {
  if (text.isWellFormed()) return -1;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(index + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) index++;
    else return index;
  }
  return -1;
}

/** The problem as messages name it: `lone surrogate U+DC00 at index 4, which is not valid Unicode`. */
export function loneSurrogateProblem(text: string, index: number, where = ""): string {
  const unit = text.charCodeAt(index).toString(16).toUpperCase();
  return `lone surrogate U+${unit} at index ${index}${where}, which is not valid Unicode`;
}

/** A lone surrogate found in a JSON value. */
export interface LoneSurrogate {
  /** The member that holds it: keys and array indexes from the top. */
  readonly path: ReadonlyArray<string | number>;
  /** True when it is in the name of a member of the object at `path`, not in a string value. */
  readonly inName: boolean;
  /** The string it is in, and where. */
  readonly text: string;
  readonly index: number;
}

interface Visit {
  readonly value: unknown;
  readonly key: string | number | null;
  readonly parent: Visit | null;
}

/**
 * The first lone surrogate in the strings of a JSON value (member names included), in document
 * order, or null. It walks with a stack of its own, so nesting depth cannot exhaust the call
 * stack; strings are checked by `isWellFormed`, which costs nothing on a Latin-1 string.
 */
export function findLoneSurrogate(value: unknown): LoneSurrogate | null {
  const stack: Visit[] = [{ value, key: null, parent: null }];
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    const current = visit.value;
    if (typeof current === "string") {
      const index = loneSurrogateIndex(current);
      if (index !== -1) return { path: pathOf(visit), inName: false, text: current, index };
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], key: i, parent: visit });
    } else if (typeof current === "object" && current !== null) {
      const entries = Object.entries(current);
      for (const [name] of entries) {
        const index = loneSurrogateIndex(name);
        if (index !== -1) return { path: pathOf(visit), inName: true, text: name, index };
      }
      for (let i = entries.length - 1; i >= 0; i--) {
        const entry = entries[i];
        if (entry !== undefined) stack.push({ value: entry[1], key: entry[0], parent: visit });
      }
    }
  }
  return null;
}

function pathOf(visit: Visit): Array<string | number> {
  const path: Array<string | number> = [];
  for (let at: Visit | null = visit; at !== null && at.key !== null; at = at.parent) path.unshift(at.key);
  return path;
}
