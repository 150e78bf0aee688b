import { describe, expect, test } from "bun:test";
import { buildChildEnv } from "../../src/env_policy/mod.ts";
import { envGlob } from "../../src/protocol/mod.ts";
import type { EnvPolicy } from "../../src/protocol/mod.ts";

const SERVER_ENV = {
  PATH: "/usr/bin:/bin",
  HOME: "/root",
  lang: "C.UTF-8",
  EDITOR: "vi",
  API_KEY: "k",
  KEYBOARD: "us",
  monkey: "m",
  MY_SECRET: "s",
  GH_TOKEN: "t",
  FOO: "1",
  foo_lower: "2",
  BAR: "3",
};

function policy(overrides: Partial<EnvPolicy> = {}): EnvPolicy {
  return {
    inherit: "all",
    ignoreDefaultExcludes: false,
    exclude: [],
    set: {},
    includeOnly: [],
    ...overrides,
  };
}

describe("buildChildEnv", () => {
  test("buildChildEnv without a policy returns exactly the request env", () => {
    expect(buildChildEnv(SERVER_ENV, null, { A: "1" })).toEqual({ A: "1" });
  });

  test("buildChildEnv without a policy and an empty env returns an empty environment", () => {
    expect(buildChildEnv(SERVER_ENV, undefined, {})).toEqual({});
  });

  test("buildChildEnv without a policy does not scrub launch secrets", () => {
    expect(buildChildEnv(SERVER_ENV, null, { NODE_REPL_AUTH_TOKEN: "x" })).toEqual({
      NODE_REPL_AUTH_TOKEN: "x",
    });
  });

  test("buildChildEnv inherit all keeps everything but the default excludes", () => {
    expect(buildChildEnv(SERVER_ENV, policy(), {})).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/root",
      lang: "C.UTF-8",
      EDITOR: "vi",
      FOO: "1",
      foo_lower: "2",
      BAR: "3",
    });
  });

  test("buildChildEnv drops *KEY*, *SECRET* and *TOKEN* names case-insensitively by default", () => {
    const env = buildChildEnv(SERVER_ENV, policy({ includeOnly: ["*KEY*", "*SECRET*", "*TOKEN*"] }), {});
    expect(env).toEqual({});
  });

  test("buildChildEnv keeps default-excluded names with ignoreDefaultExcludes", () => {
    expect(buildChildEnv(SERVER_ENV, policy({ ignoreDefaultExcludes: true }), {})).toEqual(SERVER_ENV);
  });

  test("buildChildEnv inherit none starts empty", () => {
    expect(buildChildEnv(SERVER_ENV, policy({ inherit: "none" }), {})).toEqual({});
  });

  test("buildChildEnv inherit core keeps only the core names, compared case-insensitively", () => {
    expect(buildChildEnv(SERVER_ENV, policy({ inherit: "core" }), {})).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/root",
      lang: "C.UTF-8",
    });
  });

  test("buildChildEnv drops names matching an exclude glob", () => {
    expect(buildChildEnv(SERVER_ENV, policy({ exclude: ["?OO", "ED*"] }), {})).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/root",
      lang: "C.UTF-8",
      foo_lower: "2",
      BAR: "3",
    });
  });

  test("buildChildEnv set replaces values and brings back excluded names", () => {
    const env = buildChildEnv(
      SERVER_ENV,
      policy({ inherit: "none", exclude: ["FOO"], set: { FOO: "set", API_KEY: "again" } }),
      {},
    );
    expect(env).toEqual({ FOO: "set", API_KEY: "again" });
  });

  test("buildChildEnv includeOnly keeps matching names and drops set entries that do not match", () => {
    const env = buildChildEnv(
      SERVER_ENV,
      policy({ set: { ZED: "z", FOX: "f" }, includeOnly: ["foo*", "F?X"] }),
      {},
    );
    expect(env).toEqual({ FOO: "1", foo_lower: "2", FOX: "f" });
  });

  test("buildChildEnv lays the overlay over the policy result unfiltered", () => {
    const env = buildChildEnv(
      SERVER_ENV,
      policy({ inherit: "none", includeOnly: ["NOTHING"], exclude: ["*"] }),
      { MY_TOKEN: "o", BAR: "overlay" },
    );
    expect(env).toEqual({ MY_TOKEN: "o", BAR: "overlay" });
  });

  test("buildChildEnv overlay replaces an inherited value", () => {
    expect(buildChildEnv({ A: "1" }, policy(), { A: "2" })).toEqual({ A: "2" });
  });

  test("buildChildEnv scrubs launch secrets whatever set and the overlay say", () => {
    const serverEnv = { CODEX_EXEC_SERVER_NOISE_AUTH_TOKEN: "a", OPENAI_IDENTITY_TOKEN_FILE: "b", KEEP: "k" };
    const env = buildChildEnv(
      serverEnv,
      policy({
        ignoreDefaultExcludes: true,
        set: { NODE_REPL_AUTH_TOKEN: "c", openai_federation_rule_id: "d" },
      }),
      { OPENAI_WORKLOAD_IDENTITY_CONTEXT: "e", Codex_Exec_Server_Noise_Auth_Token: "f" },
    );
    expect(env).toEqual({ KEEP: "k" });
  });

  test.each([["without a policy", null], ["with a policy", policy({ inherit: "none" })]] as const)(
    "buildChildEnv keeps variables named __proto__ and constructor %s",
    (_case, childPolicy) => {
      // Parsed: a literal `__proto__` member would set the prototype instead.
      const overlay = JSON.parse('{"__proto__":"pp","constructor":"cc"}') as Record<string, string>;
      const env = buildChildEnv({}, childPolicy, overlay);
      expect([Object.entries(env), env["toString"]]).toEqual([
        [["__proto__", "pp"], ["constructor", "cc"]],
        undefined,
      ]);
    },
  );

  test("buildChildEnv keeps __proto__ from the server environment and from set", () => {
    const serverEnv = JSON.parse('{"__proto__":"sp","B":"b"}') as Record<string, string>;
    const set = JSON.parse('{"__proto__":"set"}') as Record<string, string>;
    expect(Object.entries(buildChildEnv(serverEnv, policy({ exclude: ["B"] }), {}))).toEqual([[
      "__proto__",
      "sp",
    ]]);
    expect(Object.entries(buildChildEnv(serverEnv, policy({ set }), {}))).toEqual([["__proto__", "set"], [
      "B",
      "b",
    ]]);
  });
});

describe("envGlob", () => {
  test.each([
    ["?OO", "FOO", true],
    ["?OO", "foo", true],
    ["?OO", "OO", false],
    ["?OO", "FOOD", false],
    ["foo*", "FOO", true],
    ["foo*", "foo_lower", true],
    ["foo*", "XFOO", false],
    ["*", "", true],
    ["a.b", "a.b", true],
    ["a.b", "axb", false],
    ["[AB]", "A", false],
    ["[AB]", "[ab]", true],
    ["A\\*", "a\\xyz", true],
  ])("envGlob %s matching %s is %p", (glob, name, expected) => {
    expect(envGlob(glob).test(name)).toBe(expected);
  });
});
