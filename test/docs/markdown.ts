/** Reading the fenced code blocks of the project's Markdown documents, for tests that check them. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** The repository root. */
export const ROOT = join(import.meta.dir, "..", "..");

/** One fenced code block: its info string (`jsonc`, `ini`, …), its text, and its first line's number. */
export interface CodeBlock {
  readonly info: string;
  readonly text: string;
  readonly line: number;
  /** The nearest `#` heading above the block. */
  readonly heading: string;
}

/** Reads a document of the repository, by its path from the root. */
export async function readDoc(path: string): Promise<string> {
  return await readFile(join(ROOT, path), "utf8");
}

/** The fenced code blocks of `markdown`, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split("\n");
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.startsWith("#")) heading = line.replace(/^#+\s*/, "");
    const fence = /^```(\S*)/.exec(line);
    if (fence === null) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !(lines[end] ?? "").startsWith("```")) end++;
    blocks.push({ info: fence[1] ?? "", text: lines.slice(start, end).join("\n"), line: start + 1, heading });
    i = end;
  }
  return blocks;
}

/**
 * The JSON value at the start of `text` (an object or array), without what follows it, such as a
 * `// annotation`. Scans strings so that `//` inside `"file:///…"` does not end the value.
 */
export function leadingJson(text: string): string {
  const start = text.search(/[{[]/);
  if (start === -1) throw new SyntaxError(`no JSON value in ${text}`);
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (ch === "{" || ch === "[") {
      depth++;
    } else if (ch === "}" || ch === "]") {
      depth--;
      if (depth === 0) return text.slice(start, i + 1);
    }
  }
  throw new SyntaxError(`unterminated JSON value in ${text}`);
}
