import { describe, expect, test } from "bun:test";
import { access } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { z } from "zod";
import { readDoc, ROOT } from "./markdown.ts";

/** The documents a user of the repository or the package reads. */
const USER_DOCS = ["README.md", "docs/protocol.md", "docs/deploy.md"];
/**
 * Names of documents that live outside the project; the user documents never send anyone there.
 * protocol.md may say once that source comments cite its sections as `PROTOCOL.md §N`.
 */
const OUTSIDE = /shared documents|\.\.\/shared|DESIGN\.md|STYLE\.md|RUNTIME\.md|PROTOCOL\.md(?! §N`)/;

/** The relative link targets of a Markdown document, without their `#anchor`. */
function relativeLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => (match[1] ?? "").replace(/#.*$/, ""))
    .filter((target) => target !== "" && !/^[a-z]+:/.test(target));
}

const { files } = z.object({ files: z.array(z.string()) }).parse(JSON.parse(await readDoc("package.json")));

describe("the user documents", () => {
  test.each(USER_DOCS)("%s links only files that exist in the project", async (doc) => {
    const missing: string[] = [];
    for (const target of relativeLinks(await readDoc(doc))) {
      const path = normalize(join(dirname(doc), target));
      await access(join(ROOT, path)).catch(() => missing.push(path));
    }
    expect(missing).toEqual([]);
  });

  test.each(USER_DOCS)("%s names no document outside the project", async (doc) => {
    expect((await readDoc(doc)).split("\n").filter((line) => OUTSIDE.test(line))).toEqual([]);
  });

  test("README links the protocol reference, its schema and the deployment guide, all shipped in the package", async () => {
    const links = relativeLinks(await readDoc("README.md"));
    expect(links).toEqual(
      expect.arrayContaining(["docs/protocol.md", "docs/protocol.schema.json", "docs/deploy.md"]),
    );
    expect(links.filter((link) => !files.includes(link) && link !== "LICENSE")).toEqual([]);
  });
});
