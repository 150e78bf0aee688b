import { describe, expect, test } from "bun:test";
import { envGlob, pathGlob } from "../../src/protocol/mod.ts";

describe("envGlob", () => {
  test.each([
    ["*", "", true],
    ["a*b*c", "AXXBYYC", true],
    ["a*b*c", "AXXBYY", false],
    ["??", "ab", true],
    ["??", "abc", false],
    ["ſ", "S", true],
    ["é*", "É_X", true],
    ["😀?", "😀x", true],
  ])("%s matching %s is %p", (glob, name, expected) => {
    expect(envGlob(glob).test(name)).toBe(expected);
  });
});

describe("pathGlob", () => {
  test.each([
    ["**/*.pem", "a/b/c.pem", true],
    ["**/*.pem", "c.pem", true],
    ["**/*.pem", "a/b/c.pemx", false],
    ["a/?/*.pem", "a/b/c.pem", true],
    ["a/?/*.pem", "a/bb/c.pem", false],
    ["a/*", "a/b/c", false],
    ["a/**", "a/b/c", true],
    ["a**b", "axxb", true],
    ["a**b", "ax/xb", false],
    ["/srv/**/secret", "/srv/secret", true],
    ["/srv/**/secret", "/srv/x/y/secret", true],
    ["/srv/**/secret", "/srv//secret", false],
    ["a.b", "axb", false],
    ["[ab]", "[ab]", true],
  ])("%s matching %s is %p", (glob, path, expected) => {
    expect(pathGlob(glob).test(path)).toBe(expected);
  });
});

// As regular expressions these took the server's only thread for hours (a name of 60 `a`s against
// twelve stars ran past 10 s before the probe gave up): one request stopped every client. The
// automaton answers in time proportional to text times pattern, whatever the text.
describe("globs that backtrack as regular expressions", () => {
  const stars = "*a".repeat(24) + "*b";
  const name = "a".repeat(4096);
  test("an environment glob", () => {
    expect([envGlob(stars).test(name), envGlob(stars).test(`${name}b`)]).toEqual([false, true]);
  });

  test("a path glob, within names and across segments", () => {
    const segments = "**/".repeat(24) + "x";
    const deep = "a/".repeat(2000) + "y";
    expect([
      pathGlob(stars).test(name),
      pathGlob(segments).test(deep),
      pathGlob(segments).test(`${deep}/x`),
    ]).toEqual([false, false, true]);
  });
});
