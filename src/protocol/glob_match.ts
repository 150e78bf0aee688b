/**
 * The globs of the protocol, matched in time proportional to the text times the pattern: the
 * environment policy's (PROTOCOL.md §6.3) and a sandbox's `glob_pattern` entries (§8.2). Each glob
 * becomes a small automaton run as a set of states, one code point at a time. As a regular
 * expression, with one unbounded run per `*`, a pattern such as `*a*a*a…*b` backtracked through
 * every way to split a long name: one request held the server's only thread for hours, and every
 * client with it.
 */

/** What a transition takes: any code point, any but `/`, `/` only, or one code point. */
const ANY = 0;
const NOT_SLASH = 1;
const SLASH = 2;
const LETTER = 3;

/** A compiled glob; `test` tells whether it matches a whole text. */
export class GlobMatcher {
  /** Per state, up to two transitions (kind, then code point for LETTER, then target); -1 = none. */
  readonly #kind: Int8Array;
  readonly #letter: string[];
  readonly #to: Int32Array;
  readonly #kind2: Int8Array;
  readonly #to2: Int32Array;
  /** Per state, the state reached without taking a code point (a `*` may match none), or -1. */
  readonly #skip: Int32Array;
  readonly #accept: number;
  readonly #caseless: boolean;
  /** Set for a glob without wildcards: the text it matches (folded when caseless). */
  readonly #literal: string | null;
  /** What a match must begin and end with (the glob's letters before its first and after its last wildcard). */
  readonly #prefix: string;
  readonly #suffix: string;
  /** Membership marks of the state sets, by generation, so that no set is allocated per step. */
  readonly #mark: Uint32Array;
  #generation = 0;

  private constructor(steps: ReadonlyArray<Step>, caseless: boolean) {
    const accept = steps.length;
    const segments = steps.filter((step) => step.kind === "segments").length;
    const size = accept + 1 + segments;
    this.#kind = new Int8Array(size).fill(-1);
    this.#letter = new Array<string>(size).fill("");
    this.#to = new Int32Array(size).fill(-1);
    this.#kind2 = new Int8Array(size).fill(-1);
    this.#to2 = new Int32Array(size).fill(-1);
    this.#skip = new Int32Array(size).fill(-1);
    this.#mark = new Uint32Array(size);
    this.#accept = accept;
    this.#caseless = caseless;
    let extra = accept + 1;
    steps.forEach((step, state) => {
      const next = state + 1;
      if (step.kind === "one") {
        this.#kind[state] = step.take;
        this.#letter[state] = step.letter;
        this.#to[state] = next;
      } else if (step.kind === "run") {
        this.#kind[state] = step.take;
        this.#to[state] = state;
        this.#skip[state] = next;
      } else {
        // Zero or more whole segments, each one or more code points other than `/` and a `/`.
        const inside = extra++;
        this.#kind[state] = NOT_SLASH;
        this.#to[state] = inside;
        this.#skip[state] = next;
        this.#kind[inside] = NOT_SLASH;
        this.#to[inside] = inside;
        this.#kind2[inside] = SLASH;
        this.#to2[inside] = state;
      }
    });
    const letterAt = (step: Step | undefined): string | null =>
      step !== undefined && step.kind === "one" && step.take === LETTER ? step.letter : null;
    let prefix = "";
    for (let at = 0, letter = letterAt(steps[at]); letter !== null; letter = letterAt(steps[++at])) {
      prefix += letter;
    }
    let suffix = "";
    for (
      let at = steps.length - 1, letter = letterAt(steps[at]);
      letter !== null;
      letter = letterAt(steps[--at])
    ) {
      suffix = letter + suffix;
    }
    this.#prefix = prefix;
    this.#suffix = suffix;
    this.#literal = steps.every((step) => letterAt(step) !== null) ? prefix : null;
  }

  /** Builds a matcher from `steps`, one per state in order; the state after the last accepts. */
  static build(steps: ReadonlyArray<Step>, caseless: boolean): GlobMatcher {
    return new GlobMatcher(steps, caseless);
  }

  /** Whether the glob matches all of `text`. */
  test(text: string): boolean {
    const subject = this.#caseless ? fold(text) : text;
    if (this.#literal !== null) return subject === this.#literal;
    // Most texts fail on the letters at the ends, which cost no automaton run.
    if (!subject.startsWith(this.#prefix) || !subject.endsWith(this.#suffix)) return false;
    let current: number[] = [];
    this.#generation++;
    this.#enter(0, current);
    for (const ch of subject) {
      const next: number[] = [];
      this.#generation++;
      for (const state of current) {
        if (this.#takes(this.#kind[state] ?? -1, this.#letter[state] ?? "", ch)) {
          this.#enter(this.#to[state] ?? -1, next);
        }
        if (this.#takes(this.#kind2[state] ?? -1, "", ch)) this.#enter(this.#to2[state] ?? -1, next);
      }
      if (next.length === 0) return false;
      current = next;
    }
    return current.includes(this.#accept);
  }

  /** Adds `state` and the states its skips reach to `into`, each once per generation. */
  #enter(state: number, into: number[]): void {
    for (let at = state; at !== -1 && this.#mark[at] !== this.#generation; at = this.#skip[at] ?? -1) {
      this.#mark[at] = this.#generation;
      into.push(at);
    }
  }

  #takes(kind: number, letter: string, ch: string): boolean {
    switch (kind) {
      case ANY:
        return true;
      case NOT_SLASH:
        return ch !== "/";
      case SLASH:
        return ch === "/";
      case LETTER:
        return ch === letter;
      default:
        return false;
    }
  }
}

/** One piece of a glob: one code point, a run of them, or whole path segments. */
type Step =
  | { readonly kind: "one"; readonly take: number; readonly letter: string }
  | { readonly kind: "run"; readonly take: number }
  | { readonly kind: "segments" };

/**
 * An environment policy glob (§6.3): `*` any run, `?` any one code point, anything else itself,
 * case-insensitively, over the whole name.
 */
export function envGlob(glob: string): GlobMatcher {
  const steps: Step[] = [];
  for (const ch of glob) {
    if (ch === "*") steps.push({ kind: "run", take: ANY });
    else if (ch === "?") steps.push({ kind: "one", take: ANY, letter: "" });
    else steps.push({ kind: "one", take: LETTER, letter: fold(ch) });
  }
  return GlobMatcher.build(steps, true);
}

/**
 * A sandbox path glob (§8.2) over `/`-separated paths: `*` a run within a name, `?` one code point
 * other than `/`, `**` at the start of a segment and followed by `/` any number of whole
 * segments, `**` as the whole last segment anything, `**` elsewhere as `*`.
 */
export function pathGlob(pattern: string): GlobMatcher {
  const chars = [...pattern];
  const steps: Step[] = [];
  let i = 0;
  while (i < chars.length) {
    const ch = chars[i] ?? "";
    if (ch === "*" && chars[i + 1] === "*") {
      const atSegmentStart = i === 0 || chars[i - 1] === "/";
      if (atSegmentStart && chars[i + 2] === "/") {
        steps.push({ kind: "segments" });
        i += 3;
        continue;
      }
      steps.push({ kind: "run", take: atSegmentStart && i + 2 === chars.length ? ANY : NOT_SLASH });
      i += 2;
      continue;
    }
    if (ch === "*") steps.push({ kind: "run", take: NOT_SLASH });
    else if (ch === "?") steps.push({ kind: "one", take: NOT_SLASH, letter: "" });
    else steps.push({ kind: "one", take: LETTER, letter: ch });
    i++;
  }
  return GlobMatcher.build(steps, false);
}

/**
 * A code point (or text) in one case, so that caseless globs compare by equality: upper case of
 * the lower case, which puts `ſ` with `s` and the Kelvin sign with `k`, as a case-insensitive
 * Unicode regular expression does.
 */
function fold(text: string): string {
  return text.toLowerCase().toUpperCase();
}
