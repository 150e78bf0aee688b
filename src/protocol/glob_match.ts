/**
 * The globs of the protocol, matched in time proportional to the text times the pattern: the
 * environment policy's (PROTOCOL.md §6.3) and a sandbox's `glob_pattern` entries (§8.2). Each glob
 * becomes a small automaton run as a set of states, one code point at a time. As a regular
 * expression, with one unbounded run per `*`, a pattern such as `*a*a*a…*b` backtracked through
 * every way to split a long name: one request held the server's only thread for hours, and every
 * client with it.
 */

/** One transition: the code points it takes, and the state it leads to. */
interface Edge {
  readonly test: (ch: string) => boolean;
  readonly to: number;
}

const any = (): boolean => true;
const notSlash = (ch: string): boolean => ch !== "/";
const slash = (ch: string): boolean => ch === "/";

/** A compiled glob; `test` tells whether it matches a whole text. */
export class GlobMatcher {
  readonly #edges: Edge[][];
  /** Transitions that take nothing (a `*` may match no code point). */
  readonly #skips: number[][];
  readonly #accept: number;

  private constructor(edges: Edge[][], skips: number[][], accept: number) {
    this.#edges = edges;
    this.#skips = skips;
    this.#accept = accept;
  }

  /** Whether the glob matches all of `text`. */
  test(text: string): boolean {
    let current = this.#closure([0]);
    for (const ch of text) {
      const next: number[] = [];
      for (const state of current) {
        for (const edge of this.#edges[state] ?? []) {
          if (edge.test(ch)) next.push(edge.to);
        }
      }
      if (next.length === 0) return false;
      current = this.#closure(next);
    }
    return current.includes(this.#accept);
  }

  /** `states` and every state their skips reach, each once. */
  #closure(states: number[]): number[] {
    const seen = new Set<number>();
    const out: number[] = [];
    const stack = [...states];
    for (let state = stack.pop(); state !== undefined; state = stack.pop()) {
      if (seen.has(state)) continue;
      seen.add(state);
      out.push(state);
      for (const to of this.#skips[state] ?? []) stack.push(to);
    }
    return out;
  }

  /** Builds a matcher from `steps`, one per state in order; the state after the last accepts. */
  static build(steps: ReadonlyArray<Step>): GlobMatcher {
    const edges: Edge[][] = [];
    const skips: number[][] = [];
    const accept = steps.length;
    let extra = accept + 1;
    steps.forEach((step, state) => {
      const next = state + 1;
      if (step.kind === "one") {
        edges[state] = [{ test: step.test, to: next }];
        skips[state] = [];
      } else if (step.kind === "run") {
        edges[state] = [{ test: step.test, to: state }];
        skips[state] = [next];
      } else {
        // Zero or more whole segments, each one or more code points other than `/` and a `/`.
        const inside = extra++;
        edges[state] = [{ test: notSlash, to: inside }];
        skips[state] = [next];
        edges[inside] = [{ test: notSlash, to: inside }, { test: slash, to: state }];
        skips[inside] = [];
      }
    });
    return new GlobMatcher(edges, skips, accept);
  }
}

/** One piece of a glob: one code point, a run of them, or whole path segments. */
type Step =
  | { readonly kind: "one"; readonly test: (ch: string) => boolean }
  | { readonly kind: "run"; readonly test: (ch: string) => boolean }
  | { readonly kind: "segments" };

/**
 * An environment policy glob (§6.3): `*` any run, `?` any one code point, anything else itself,
 * case-insensitively, over the whole name.
 */
export function envGlob(glob: string): GlobMatcher {
  const steps: Step[] = [];
  for (const ch of glob) {
    if (ch === "*") steps.push({ kind: "run", test: any });
    else if (ch === "?") steps.push({ kind: "one", test: any });
    else steps.push({ kind: "one", test: sameLetter(ch) });
  }
  return GlobMatcher.build(steps);
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
      steps.push({ kind: "run", test: atSegmentStart && i + 2 === chars.length ? any : notSlash });
      i += 2;
      continue;
    }
    if (ch === "*") steps.push({ kind: "run", test: notSlash });
    else if (ch === "?") steps.push({ kind: "one", test: notSlash });
    else steps.push({ kind: "one", test: (other) => other === ch });
    i++;
  }
  return GlobMatcher.build(steps);
}

/** Matches `ch` regardless of case, as a case-insensitive Unicode regular expression does. */
function sameLetter(ch: string): (other: string) => boolean {
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  return (other) => other === ch || other.toLowerCase() === lower || other.toUpperCase() === upper;
}
