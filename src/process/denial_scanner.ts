/** Output phrases that mark a sandbox denial (PROTOCOL.md §5.11), lowercase. */
const DENIAL_PHRASES = [
  "operation not permitted",
  "permission denied",
  "read-only file system",
  "seccomp",
  "sandbox",
  "landlock",
  "failed to write file",
];
const LONGEST = Math.max(...DENIAL_PHRASES.map((phrase) => phrase.length));
const LATIN1 = new TextDecoder("latin1");

/** Scans streamed output for denial phrases, across chunk borders, case-insensitively. */
export class DenialScanner {
  #tail = "";
  #found = false;

  /** Whether a phrase has been seen. */
  get found(): boolean {
    return this.#found;
  }

  /** Scans the next bytes of output (any stream). */
  scan(bytes: Uint8Array): void {
    if (this.#found) return;
    const text = this.#tail + LATIN1.decode(bytes).toLowerCase();
    this.#found = DENIAL_PHRASES.some((phrase) => text.includes(phrase));
    this.#tail = text.slice(-(LONGEST - 1));
  }
}
