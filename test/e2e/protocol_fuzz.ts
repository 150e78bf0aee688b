/**
 * Generative differential fuzzer: builds seeded random cases of valid and near-valid messages for
 * every method of docs/protocol.md (wrong types, missing and extra members, boundary numbers, odd
 * ids, envelopes, handshake states), sends each case to the Codex 0.169 reference exec-server and
 * to this server under Bun and Deno, and compares what came back: error or result, error code,
 * result shape and values (volatile ones normalized), whether the connection closed, and each
 * process's notifications. Differences are grouped by method and mutation and classified against
 * the documented departures. A script, not part of `npm test`: it needs the reference and takes
 * minutes.
 *
 *     mkdir -p /tmp/codexref && cd /tmp/codexref && npm i @openai/codex@0.169.0
 *     bun test/e2e/protocol_fuzz.ts [--seed N] [--cases N] [--only method] [--ref path] [--json out]
 *
 * Every path a case can write, copy to or remove lies inside `c<case>/` of a temp dir the fuzzer
 * makes per target; paths outside it are only read (metadata, canonicalize), never changed.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { seededRandom } from "../helpers/seeded_random.ts";
import { startTarget as startReferenceWireTarget } from "./reference_wire.ts";
import type { Running } from "./reference_wire.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type TargetName = "codex" | "bun" | "deno";

const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  const index = argv.indexOf(name);
  return index === -1 ? undefined : argv[index + 1];
}
const REFERENCE_BIN = flag("--ref") ?? "/tmp/codexref/node_modules/.bin/codex";
const SEED = Number(flag("--seed") ?? "1");
const CASES = Number(flag("--cases") ?? "600");
const ONLY = flag("--only");
const JSON_OUT = flag("--json");
const VERBOSE = argv.includes("--verbose");
const PROBE = flag("--probe");
const TARGETS: readonly TargetName[] =
  (flag("--targets")?.split(",") ?? ["codex", "bun", "deno"]) as TargetName[];
const CASE_DEADLINE_MS = 8_000;

// ---------------------------------------------------------------------------------------------
// Raw values: a string "\u0001RAW:<text>\u0001" inside a frame becomes <text> unquoted, so a case
// can hold numbers JSON.stringify never writes (1.0, 1e400, -0).

const raw = (text: string): string => `\u0001RAW:${text}\u0001`;
function render(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0001RAW:(.*?)\\u0001"/g, (_, text: string) => text);
}

// ---------------------------------------------------------------------------------------------
// Cases

type Phase = "new" | "initializing" | "ready";

interface Case {
  readonly index: number;
  readonly method: string;
  readonly mutation: string;
  readonly phase: Phase;
  /** Frames as text; `<TMP>` and `<TMPURI>` are replaced per target. */
  readonly frames: string[];
}

type Random = () => number;

class Gen {
  readonly random: Random;
  constructor(seed: number) {
    this.random = seededRandom(seed);
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
}

const STRINGS: Json[] = ["", "x", "é😀\u200b", " ", "a".repeat(2000), "\u0000", "NaN", "null", "1"];
const NUMBERS: Json[] = [
  0,
  1,
  -1,
  1.5,
  -0.5,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53) - 2,
  1e300,
  raw("1.0"),
  raw("1e2"),
  raw("-0"),
  raw("1e400"),
];
const OTHERS: Json[] = [null, true, false, [], {}, [1], { a: 1 }, "NaN", "Infinity", "1", "-1"];
const ANY: Json[] = [...STRINGS, ...NUMBERS, ...OTHERS];

interface MethodSpec {
  /** Frames to send before the request under test (state the request needs). */
  setup?: (c: CaseCtx) => unknown[];
  /** The valid params of the request under test. */
  params: (c: CaseCtx) => Record<string, Json>;
  /** Members that are required (dropping one should fail). */
  required: readonly string[];
  /** Values worth trying for a member, beyond the generic pools. */
  values?: Record<string, (c: CaseCtx) => Json[]>;
  /** Optional members that may be added. */
  optional?: Record<string, (c: CaseCtx) => Json[]>;
  /** Members whose value names a path the request may change; checked against the case dir. */
  mutating?: (params: Record<string, Json>) => string[];
  /** Members whose path is read in bulk (a copy's source): it must lie in the temp dir. */
  bulk?: (params: Record<string, Json>) => string[];
}

class CaseCtx {
  readonly index: number;
  readonly gen: Gen;
  constructor(index: number, gen: Gen) {
    this.index = index;
    this.gen = gen;
  }
  /** The case's own directory, as a URI; only it may be changed. */
  get dir(): string {
    return `<TMPURI>/c${this.index}`;
  }
  get nativeDir(): string {
    return `<TMP>/c${this.index}`;
  }
  /** Path spellings inside the case dir (all safe to change). */
  paths(name: string): string[] {
    const d = this.dir;
    const n = this.nativeDir;
    return [
      `${d}/${name}`,
      `${n}/${name}`,
      `file://localhost${n}/${name}`,
      `FILE://${n}/${name}`,
      `file:${n}/${name}`,
      `${d}/./${name}`,
      `${d}/zz/../${name}`,
      `${d}//${name}`,
      `${d}/${name}/`,
      `${d}/${encodeURIComponent(name).replace(/\./g, "%2E")}`,
      `${d}/${name}?q=1`,
      `${d}/${name}#frag`,
      `${d}/a%2Fb`,
      `${d}/a%00b`,
      `${d}/%ff`,
      `${d}/%zz`,
      `${d}/é ${name}`,
      `${d}/é%20${name}`,
      `file://build-7${n}/${name}`,
      `c${this.index}/${name}`,
      `./${name}`,
      "",
      "http://h/x",
      `${n}/${name}\u0000x`,
    ];
  }
  /** Paths only read, never changed. */
  readPaths(): string[] {
    return [
      "<TMPURI>/seed/a.txt",
      "<TMPURI>/seed/dir",
      "<TMPURI>/seed/empty",
      "<TMPURI>/seed/link",
      "<TMPURI>/seed/dangling",
      "<TMPURI>/seed/loop",
      "<TMPURI>/seed/fifo",
      "<TMPURI>/seed/link-dir",
      "<TMPURI>/seed/sp%20ace.txt",
      "<TMPURI>/seed/%C3%BC.txt",
      "<TMPURI>/seed/a.txt/x",
      "<TMPURI>/seed/missing",
      `<TMPURI>/seed/${"n".repeat(300)}`,
      "file:///",
      "file://",
      "file:///proc/self/fd",
    ];
  }
  b64(text: string): string {
    return Buffer.from(text).toString("base64");
  }
  /** Setup frames that create the case dir with a file `f.txt` and a directory `d/` in it. */
  scratch(): unknown[] {
    return [
      {
        method: "fs/createDirectory",
        params: { path: `${this.dir}/d/inner`, recursive: true, sandbox: null },
      },
      {
        method: "fs/writeFile",
        params: { path: `${this.dir}/f.txt`, dataBase64: this.b64("hello\n"), sandbox: null },
      },
      {
        method: "fs/writeFile",
        params: { path: `${this.dir}/d/g.txt`, dataBase64: this.b64("g\n"), sandbox: null },
      },
    ];
  }
  pid(): string {
    return `p${this.index}`;
  }
}

const SANDBOXES: Json[] = [
  null,
  {},
  { sandboxPolicy: { type: "danger-full-access" }, windowsSandboxLevel: "disabled" },
  { sandboxPolicy: { type: "danger-full-access" } },
  { sandboxPolicy: { type: "nope" }, windowsSandboxLevel: "disabled" },
  { permissions: { type: "disabled" }, windowsSandboxLevel: "disabled" },
  { permissions: { type: "external", network: "enabled" }, windowsSandboxLevel: "disabled" },
  { permissions: { type: "external", network: "sideways" }, windowsSandboxLevel: "disabled" },
  {
    permissions: { type: "managed", file_system: { type: "unrestricted" }, network: "enabled" },
    windowsSandboxLevel: "disabled",
  },
  {
    permissions: { type: "disabled" },
    sandboxPolicy: { type: "danger-full-access" },
    windowsSandboxLevel: "disabled",
  },
  "none",
  [],
];

const startParams = (c: CaseCtx, argv: Json[], extra: Record<string, Json> = {}): Record<string, Json> => ({
  processId: c.pid(),
  argv,
  cwd: "<TMPURI>/seed",
  env: { PATH: "/usr/bin:/bin" },
  tty: false,
  ...extra,
});
const startFrame = (c: CaseCtx, argv: Json[], extra: Record<string, Json> = {}) => ({
  method: "process/start",
  params: startParams(c, argv, extra),
});
const PROCESS_IDS = (c: CaseCtx): Json[] => [c.pid(), "nope", "", 1, null, `${c.pid()} `, "x".repeat(1025)];

const METHODS: Record<string, MethodSpec> = {
  "environment/info": { params: () => ({}), required: [] },
  "process/start": {
    params: (c) => startParams(c, ["sh", "-c", "echo out; echo err >&2; exit 3"]),
    required: ["processId", "argv", "cwd", "env", "tty"],
    values: {
      processId: () => ["", "x".repeat(1024), "x".repeat(1025), "é", 7],
      argv: () => [
        [],
        [""],
        ["true"],
        ["/bin/true"],
        ["no-such-program-fuzz"],
        ["./x"],
        [1],
        ["echo", 1],
        [
          "echo",
          "a\u0000b",
        ],
        "true",
        [null],
        ["/bin"],
        ["/etc/hostname"],
        ["sh", "-c", "kill -9 $$"],
        ["env"],
        ["sh", "-c", 'echo "$0" "$@"; env | LC_ALL=C sort', "zero", "a b"],
        ["pwd"],
        ["printf", "%s|", "é", "a\tb", ""],
        ["sh", "-c", "read x; echo got $x"],
        ["ls", "-a"],
      ],
      cwd: (c) => [...c.paths("d"), `${c.dir}/f.txt`, `${c.dir}/missing`, "<TMPURI>/seed/a.txt", "file:///"],
      env: () => [
        {},
        { PATH: "/usr/bin:/bin", A: "é", B: "", "é": "1", "a.b": "dot" },
        { "": "x" },
        { "A=B": "1" },
        { A: 1 },
        { A: null },
        { "A\u0000": "1" },
        { A: "a\u0000" },
        [],
        {
          __proto__: "p",
        },
      ],
      tty: () => [true, 0, 1, "true", null],
    },
    optional: {
      pipeStdin: () => [true, false, null, 1],
      arg0: () => [null, "", "renamed", 1],
      envPolicy: () => [
        null,
        { inherit: "none", ignoreDefaultExcludes: false, exclude: [], set: {}, includeOnly: [] },
        { inherit: "core", ignoreDefaultExcludes: true, exclude: ["*"], set: { Z: "1" }, includeOnly: [] },
        { inherit: "ALL", ignoreDefaultExcludes: false, exclude: [], set: {}, includeOnly: [] },
        { inherit: "all" },
        { inherit: "all", ignoreDefaultExcludes: false, exclude: "x", set: {}, includeOnly: [] },
        {},
      ],
      sandbox: () => SANDBOXES,
      metadata: () => [null, {}, { threadId: "t" }, "m", 1],
      enforceManagedNetwork: () => [false, null, "no"],
      managedNetwork: () => [null, {}, false],
      networkProxy: () => [null, {}],
      shellSnapshot: () => [null, {}],
      size: () => [null, { cols: 80, rows: 24 }, { cols: 0, rows: 24 }],
      timeoutMs: () => [null, 0, 1, -1, 1.5, 2 ** 31],
      limits: () => [null, {}, { pids: 0 }],
      unknownMember: () => [1, null, {}],
    },
  },
  "process/read": {
    // One stream, one write: how stdout and stderr interleave in seqs is a race (§5.4).
    setup: (c) => [{ ...startFrame(c, ["sh", "-c", "echo one"]), waitClosed: true }],
    params: (c) => ({ processId: c.pid(), afterSeq: 0 }),
    required: ["processId"],
    values: { processId: PROCESS_IDS },
    optional: {
      afterSeq: () => [null, 0, 1, 2, 3, 4, 100, -1, 1.5, 2 ** 53 - 1, 2 ** 53, "1"],
      maxBytes: () => [null, 0, 1, 4, -1, 1.5, 2 ** 53, "1"],
      waitMs: () => [null, 0, 1, 100, -1, 1.5, 2 ** 53, "1"],
    },
  },
  "process/write": {
    setup: (c) => [startFrame(c, ["cat"], { pipeStdin: true })],
    params: (c) => ({ processId: c.pid(), chunk: c.b64("hi\n"), writeId: "w1" }),
    required: ["processId", "chunk"],
    values: {
      processId: PROCESS_IDS,
      chunk: () => ["", "aGk", "aGk=\n", "!!", "a", "aGk==", "====", "aGk=aGk=", "YQ", "YW=="],
      writeId: () => ["", "w1", null, 1, "é"],
    },
    optional: { writeId: () => [null, "w2"] },
  },
  "process/signal": {
    setup: (c) => [startFrame(c, ["sleep", "20"])],
    params: (c) => ({ processId: c.pid(), signal: "interrupt" }),
    required: ["processId", "signal"],
    values: {
      processId: PROCESS_IDS,
      signal: () => [
        "interrupt",
        "terminate",
        "kill",
        "hangup",
        "quit",
        "user1",
        "user2",
        "INT",
        "SIGINT",
        "Interrupt",
        "",
        0,
        1,
        2,
        9,
        15,
        31,
        32,
        64,
        -1,
        1.5,
        null,
      ],
    },
  },
  "process/terminate": {
    setup: (c) => [startFrame(c, ["sleep", "20"])],
    params: (c) => ({ processId: c.pid() }),
    required: ["processId"],
    values: { processId: PROCESS_IDS },
  },
  "process/resize": {
    setup: (c) => [startFrame(c, ["sleep", "20"], { tty: true })],
    params: (c) => ({ processId: c.pid(), cols: 100, rows: 40 }),
    required: ["processId", "cols", "rows"],
    values: { processId: PROCESS_IDS },
  },
  "process/closeStdin": {
    setup: (c) => [startFrame(c, ["cat"], { pipeStdin: true })],
    params: (c) => ({ processId: c.pid() }),
    required: ["processId"],
    values: { processId: PROCESS_IDS },
  },
  "process/list": { params: () => ({}), required: [] },
  "fs/readFile": {
    setup: (c) => c.scratch(),
    params: (c) => ({ path: `${c.dir}/f.txt`, sandbox: null }),
    required: ["path"],
    values: { path: (c) => [...c.paths("f.txt"), ...c.readPaths()] },
    optional: { sandbox: () => SANDBOXES, maxBytes: () => [null, 0, 1, 6, -1, 1.5] },
  },
  "fs/writeFile": {
    setup: (c) => c.scratch(),
    params: (c) => ({ path: `${c.dir}/new.txt`, dataBase64: c.b64("data"), sandbox: null }),
    required: ["path", "dataBase64"],
    values: {
      path: (c) => [...c.paths("new.txt"), `${c.dir}/d`, `${c.dir}/missing/x.txt`, `${c.dir}/f.txt/x`],
      dataBase64: () => ["", "ZGF0YQ", "ZGF0YQ==\n", "!!", "a", "ZGF0YQ===", "ZG F0", "_-_-", "YQ=="],
    },
    optional: { sandbox: () => SANDBOXES },
    mutating: (p) => [p["path"]].filter((v): v is string => typeof v === "string"),
  },
  "fs/createDirectory": {
    setup: (c) => c.scratch(),
    params: (c) => ({ path: `${c.dir}/newdir`, recursive: true, sandbox: null }),
    required: ["path"],
    values: { path: (c) => [...c.paths("newdir/sub"), `${c.dir}/d`, `${c.dir}/f.txt`, `${c.dir}/f.txt/sub`] },
    optional: { recursive: () => [true, false, null, 0, "true"], sandbox: () => SANDBOXES },
    mutating: (p) => [p["path"]].filter((v): v is string => typeof v === "string"),
  },
  "fs/getMetadata": {
    setup: (c) => c.scratch(),
    params: (c) => ({ path: `${c.dir}/f.txt`, sandbox: null }),
    required: ["path"],
    values: { path: (c) => [...c.paths("f.txt"), ...c.readPaths()] },
    optional: { sandbox: () => SANDBOXES },
  },
  "fs/canonicalize": {
    setup: (c) => c.scratch(),
    params: (c) => ({ path: `${c.dir}/f.txt`, sandbox: null }),
    required: ["path"],
    values: { path: (c) => [...c.paths("f.txt"), ...c.readPaths()] },
    optional: { sandbox: () => SANDBOXES },
  },
  "fs/readDirectory": {
    setup: (c) => c.scratch(),
    params: (c) => ({ path: `${c.dir}`, sandbox: null }),
    required: ["path"],
    values: { path: (c) => [...c.paths("d"), ...c.readPaths().filter((p) => !p.startsWith("file:///"))] },
    optional: { sandbox: () => SANDBOXES },
  },
  "fs/walk": {
    setup: (c) => c.scratch(),
    params: (c) => ({
      path: `${c.dir}`,
      options: { maxDepth: 3, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false },
      sandbox: null,
    }),
    required: ["path", "options"],
    values: {
      path: (c) => [...c.paths("d"), ...c.readPaths().filter((p) => !p.startsWith("file:///"))],
      options: () => [
        null,
        {},
        { maxDepth: 0, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false },
        { maxDepth: -1, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false },
        { maxDepth: 1.5, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false },
        { maxDepth: 2 ** 53, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: true },
        { maxDepth: 3, maxDirectories: 1, maxEntries: 10, followDirectorySymlinks: false },
        { maxDepth: 64, maxDirectories: 10_000, maxEntries: 50_000, followDirectorySymlinks: false },
        { maxDepth: 65, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false },
        { maxDepth: 3, maxDirectories: 10_001, maxEntries: 50_001, followDirectorySymlinks: false },
        { maxDepth: 3, maxDirectories: 10, maxEntries: 1, followDirectorySymlinks: false },
        { maxDepth: 3, maxDirectories: 10, maxEntries: 10 },
        { maxDepth: 3, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: "yes" },
        { maxDepth: "3", maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false },
        { maxDepth: 3, maxDirectories: 10, maxEntries: 10, followDirectorySymlinks: false, extra: 1 },
      ],
    },
    optional: { sandbox: () => SANDBOXES },
  },
  "fs/remove": {
    setup: (c) => c.scratch(),
    params: (c) => ({ path: `${c.dir}/f.txt`, recursive: false, force: false, sandbox: null }),
    required: ["path"],
    values: { path: (c) => [...c.paths("f.txt"), `${c.dir}/d`, `${c.dir}/missing`, `${c.dir}/missing/x`] },
    optional: {
      recursive: () => [true, false, null, 1, "false"],
      force: () => [true, false, null, 1, "false"],
      sandbox: () => SANDBOXES,
    },
    mutating: (p) => [p["path"]].filter((v): v is string => typeof v === "string"),
  },
  "fs/copy": {
    setup: (c) => c.scratch(),
    params: (c) => ({ sourcePath: `${c.dir}/f.txt`, destinationPath: `${c.dir}/copy.txt`, recursive: false }),
    required: ["sourcePath", "destinationPath", "recursive"],
    values: {
      sourcePath: (
        c,
      ) => [
        ...c.paths("f.txt"),
        `${c.dir}/d`,
        `${c.dir}/missing`,
        "<TMPURI>/seed/fifo",
        "<TMPURI>/seed/link",
      ],
      destinationPath: (
        c,
      ) => [
        ...c.paths("copy.txt"),
        `${c.dir}/d`,
        `${c.dir}/d/inner/x`,
        `${c.dir}/missing/x`,
        `${c.dir}/f.txt`,
      ],
      recursive: () => [true, false, null, 1, "true"],
    },
    optional: { sandbox: () => SANDBOXES },
    mutating: (p) => [p["destinationPath"]].filter((v): v is string => typeof v === "string"),
    bulk: (p) => [p["sourcePath"]].filter((v): v is string => typeof v === "string"),
  },
  "fs/open": {
    setup: (c) => c.scratch(),
    params: (c) => ({ handleId: "h", path: `${c.dir}/f.txt`, mode: "read", sandbox: null }),
    required: ["handleId", "path"],
    values: {
      handleId: () => ["", "x".repeat(32), "x".repeat(33), "é".repeat(16), "é".repeat(17), 1, null],
      path: (c) => [...c.paths("f.txt"), `${c.dir}/d`, "<TMPURI>/seed/fifo", "<TMPURI>/seed/missing"],
      mode: () => ["read", "replace", "READ", "append", "", null, 1],
    },
    optional: { sandbox: () => SANDBOXES },
    mutating: (p) => (p["mode"] === "replace" || p["mode"] === undefined) ? [String(p["path"])] : [],
  },
  "fs/readBlock": {
    setup: (
      c,
    ) => [...c.scratch(), {
      method: "fs/open",
      params: { handleId: "h", path: `${c.dir}/f.txt`, sandbox: null },
    }],
    params: () => ({ handleId: "h", offset: 0, len: 4 }),
    required: ["handleId", "offset", "len"],
    values: {
      handleId: () => ["h", "nope", "", 1, null],
      offset: () => [0, 1, 5, 6, 7, 100, -1, 1.5, 2 ** 53 - 1, 2 ** 53, 2 ** 63, "0", null],
      len: () => [0, 1, 6, 1_048_576, 1_048_577, -1, 1.5, 2 ** 53, "4", null],
    },
  },
  "fs/writeBlock": {
    setup: (c) => [
      ...c.scratch(),
      {
        method: "fs/open",
        params: { handleId: "h", path: `${c.dir}/w.bin`, mode: "replace", sandbox: null },
      },
    ],
    params: (c) => ({ handleId: "h", offset: 0, chunk: c.b64("abc") }),
    required: ["handleId", "offset", "chunk"],
    values: {
      handleId: () => ["h", "nope", "", 1, null],
      offset: () => [0, 1, 100, -1, 1.5, 2 ** 53 - 1, 2 ** 53, "0", null],
      chunk: () => ["", "YWJj", "YWJ", "!!", "a", "YWJj\n", Buffer.alloc(1_048_577).toString("base64")],
    },
  },
  "fs/close": {
    setup: (
      c,
    ) => [...c.scratch(), {
      method: "fs/open",
      params: { handleId: "h", path: `${c.dir}/f.txt`, sandbox: null },
    }],
    params: () => ({ handleId: "h" }),
    required: ["handleId"],
    values: { handleId: () => ["h", "nope", "", 1, null, "x".repeat(40)] },
  },
  "fs/watchMissing": { params: () => ({ watchId: 1, missing: [], present: null }), required: [] },
  "environmentConfig/read": { params: () => ({}), required: [] },
  "http/request": { params: () => ({}), required: [] },
};

/** Builds the request under test with one mutation; returns its params and the mutation's name. */
function mutate(spec: MethodSpec, c: CaseCtx): { params: Json | undefined; mutation: string } {
  const g = c.gen;
  const params = spec.params(c);
  const kinds = ["valid", "drop", "wrongType", "value", "extra", "optional", "paramsShape", "combo"];
  const kind = g.pick(kinds);
  const members = Object.keys(params);
  switch (kind) {
    case "valid":
      return { params, mutation: "valid" };
    case "drop": {
      if (members.length === 0) return { params, mutation: "valid" };
      const name = g.pick(members);
      delete params[name];
      return { params, mutation: `drop ${name}` };
    }
    case "wrongType": {
      if (members.length === 0) return { params: { x: g.pick(ANY) }, mutation: "extra x" };
      const name = g.pick(members);
      const value = g.pick(ANY);
      params[name] = value;
      return { params, mutation: `${name}=${render(value).slice(0, 40)}` };
    }
    case "value": {
      const table = spec.values ?? {};
      const names = Object.keys(table);
      if (names.length === 0) return { params, mutation: "valid" };
      const name = g.pick(names);
      const value = g.pick(table[name]?.(c) ?? [null]);
      params[name] = value;
      return { params, mutation: `${name}=${render(value).slice(0, 60)}` };
    }
    case "extra": {
      const name = g.pick(["extra", "jsonrpc", "__proto__", "constructor", "PATH", "Path", "id"]);
      params[name] = g.pick(ANY);
      return { params, mutation: `extra ${name}` };
    }
    case "optional": {
      const table = spec.optional ?? {};
      const names = Object.keys(table);
      if (names.length === 0) return { params, mutation: "valid" };
      const name = g.pick(names);
      const value = g.pick(table[name]?.(c) ?? [null]);
      params[name] = value;
      return { params, mutation: `opt ${name}=${render(value).slice(0, 60)}` };
    }
    case "paramsShape": {
      const value = g.pick<Json | undefined>([undefined, null, [], [params], "x", 1, true, {}]);
      return { params: value, mutation: `params=${value === undefined ? "absent" : render(value)}` };
    }
    default: {
      const names: string[] = [];
      for (let i = 0; i < 2; i++) {
        const table = { ...(spec.values ?? {}), ...(spec.optional ?? {}) };
        const keys = Object.keys(table);
        if (keys.length === 0) break;
        const name = g.pick(keys);
        params[name] = g.pick(table[name]?.(c) ?? [null]);
        names.push(`${name}=${render(params[name]).slice(0, 40)}`);
      }
      return { params, mutation: `combo ${names.join(" ")}` };
    }
  }
}

/** Whether every path the request may change lies in the case dir (lexically, after decoding). */
function safe(spec: MethodSpec, params: Json | undefined, c: CaseCtx): boolean {
  if (params === null || typeof params !== "object" || Array.isArray(params)) return true;
  for (const value of spec.bulk?.(params) ?? []) {
    if (/^(file|FILE):/.test(value) && !/^(file|FILE):(\/\/(localhost|build-7)?)?<TMP/.test(value)) {
      return false;
    }
  }
  if (spec.mutating === undefined) return true;
  for (const value of spec.mutating(params)) {
    if (value === "undefined") continue;
    if (!/^(file:|FILE:|<TMP)/.test(value)) continue; // relative or another scheme: refused, or under the temp cwd
    let native = value.replace(/^(file|FILE):(\/\/(localhost|build-7)?)?/, "");
    try {
      native = decodeURIComponent(native.replace(/[?#].*$/, ""));
    } catch { /* an invalid escape is refused */ }
    const base = c.nativeDir;
    const segments = native.slice(base.length).split("/");
    if (
      !(native === base || native.startsWith(`${base}/`)) || segments.filter((s) => s === "..").length > 1
    ) {
      return false;
    }
  }
  return true;
}

const IDS: string[] = [
  "7",
  "-7",
  "0",
  '"s"',
  '""',
  '"é😀"',
  String(2 ** 53 - 1),
  String(-(2 ** 53 - 1)),
  String(2 ** 53),
  "1.5",
  "1.0",
  "1e2",
  "-0",
  "true",
  "null",
  "{}",
  "[]",
  '"-1"',
];

const ENVELOPES: string[] = [
  "not json",
  "",
  "[]",
  '[{"id":1,"method":"environment/info"}]',
  "{}",
  "1",
  '"str"',
  "null",
  '{"id":1}',
  '{"id":1,"result":{}}',
  '{"id":1,"error":{"code":1,"message":"x"}}',
  '{"method":1,"id":1}',
  '{"method":null,"id":1}',
  '{"method":"environment/info"}',
  '{"method":"initialized"}',
  '{"method":"initialized","params":null}',
  '{"method":"foo/bar"}',
  '{"method":"process/output","params":{}}',
  '{"id":1,"method":""}',
  '{"id":1,"method":"Initialize"}',
  '{"id":1,"method":"environment/info","jsonrpc":"2.0"}',
  '{"id":1,"method":"environment/info","jsonrpc":"1.0"}',
  '{"id":1,"method":"environment/info","params":{},"extra":true}',
  '{"id":1,"id":2,"method":"environment/info"}',
  '{"id":1,"method":"environment/info"} trailing',
  '{"id":1,"method":"environment/info"}\n',
  ' {"id":1,"method":"environment/info"}',
  '\ufeff{"id":1,"method":"environment/info"}',
  '{"id":1,"method":"fs/getMetadata","params":{"path":"<TMPURI>/seed/a.txt","path":"x"}}',
];

function makeCase(index: number, gen: Gen): Case | undefined {
  const c = new CaseCtx(index, gen);
  const roll = gen.random();
  // Envelope and handshake cases: a tenth each.
  if (roll < 0.08) {
    const phase = gen.pick<Phase>(["new", "initializing", "ready"]);
    return { index, method: "<envelope>", mutation: gen.pick(ENVELOPES), phase, frames: [] };
  }
  if (roll < 0.16) {
    const idText = gen.pick(IDS);
    const phase = gen.pick<Phase>(["new", "ready"]);
    const method = phase === "new" ? "initialize" : "environment/info";
    const params = phase === "new" ? { clientName: "fuzz" } : {};
    const frame = `{"id":${idText},"method":"${method}","params":${render(params)}}`;
    return { index, method: "<id>", mutation: `${phase} id ${idText}`, phase, frames: [frame] };
  }
  if (roll < 0.26) {
    // initialize itself, in every state.
    const phase = gen.pick<Phase>(["new", "new", "initializing", "ready"]);
    const spec: MethodSpec = {
      params: () => ({ clientName: "fuzz", resumeSessionId: null }),
      required: ["clientName"],
      values: {
        clientName: () => ["", "é😀", 1, null, "x".repeat(10_000)],
        resumeSessionId: () => [
          "",
          "00000000-0000-4000-8000-000000000000",
          "not-a-uuid",
          "<SESSION>",
          1,
          null,
        ],
      },
      optional: { binaryFrames: () => [null, false, true, "yes"] },
    };
    const { params, mutation } = mutate(spec, c);
    const frames = [
      render(
        params === undefined ? { id: 1, method: "initialize" } : { id: 1, method: "initialize", params },
      ),
    ];
    if (gen.chance(0.3)) frames.push(render({ method: "initialized", params: gen.pick([{}, null, [], 1]) }));
    if (gen.chance(0.3)) frames.push(render({ id: 2, method: "environment/info", params: null }));
    return { index, method: "initialize", mutation: `${phase} ${mutation}`, phase, frames };
  }
  const names = Object.keys(METHODS).filter((name) => ONLY === undefined || name.includes(ONLY));
  const method = gen.pick(names);
  const spec = METHODS[method] as MethodSpec;
  const { params, mutation } = mutate(spec, c);
  if (!safe(spec, params, c)) return undefined;
  const phase: Phase = gen.chance(0.06) ? gen.pick<Phase>(["new", "initializing"]) : "ready";
  const setup = phase === "ready" ? (spec.setup?.(c) ?? []) : [];
  const frames = setup.map((frame, i) => {
    const { waitClosed, ...rest } = frame as { waitClosed?: boolean };
    return render({ id: waitClosed === true ? `sw${i}` : `s${i}`, ...rest });
  });
  const request = params === undefined ? { id: 100, method } : { id: 100, method, params };
  frames.push(render(request));
  if (gen.chance(0.1)) frames.push(render({ ...request, id: 101 })); // pipelined right behind
  return { index, method, mutation, phase, frames };
}

// ---------------------------------------------------------------------------------------------
// Servers and connections

/** Starts one target in a clean environment whose home and temp dir are `home`. */
function startTarget(target: TargetName, home: string): Promise<Running> {
  const env = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    SHELL: "/bin/bash",
    TMPDIR: home,
  };
  return startReferenceWireTarget(target, home, env, REFERENCE_BIN);
}

class Wire {
  readonly ws: WebSocket;
  readonly received: (Record<string, Json> | string)[] = [];
  closed = false;
  #watchers: (() => void)[] = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("close", () => {
      this.closed = true;
      this.#wake();
    });
    ws.addEventListener("message", (event) => {
      const text = String(event.data);
      try {
        this.received.push(JSON.parse(text) as Record<string, Json>);
      } catch {
        this.received.push(text);
      }
      this.#wake();
    });
  }

  static async open(url: string): Promise<Wire> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), { once: true });
    });
    return new Wire(ws);
  }

  #wake(): void {
    const watchers = this.#watchers;
    this.#watchers = [];
    for (const wake of watchers) wake();
  }

  /** Waits until `done()` or the connection closes or the deadline passes; says which. */
  async until(done: () => boolean, deadline: number): Promise<"done" | "closed" | "timeout"> {
    for (;;) {
      if (done()) return "done";
      if (this.closed) return "closed";
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#watchers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  reply(id: Json): Record<string, Json> | undefined {
    const key = JSON.stringify(id);
    for (const message of this.received) {
      if (typeof message === "object" && !("method" in message) && JSON.stringify(message["id"]) === key) {
        return message;
      }
    }
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Running a case and normalizing what came back

interface TargetCtx {
  readonly target: TargetName;
  readonly dir: string;
  readonly url: string;
  sessionId?: string;
}

const PROC_PID = /file:\/\/\/proc\/[0-9]+\//g;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

function normString(text: string, t: TargetCtx): string {
  return text
    .split(pathToUri(t.dir)).join("file://<TMP>")
    .split(t.dir).join("<TMP>")
    .replace(UUID, "<uuid>")
    .replace(PROC_PID, "file:///proc/<pid>/")
    .replace(/127\.0\.0\.1:\d+/g, "<peer>");
}

const VOLATILE = new Set(["modifiedAtMs", "startedAtMs", "pid", "peakMemoryBytes", "cpuSeconds"]);

function normalize(value: Json, t: TargetCtx, key = ""): Json {
  if (key === "sessionId" && typeof value === "string") return "<sessionId>";
  if (VOLATILE.has(key) && typeof value === "number") return value > 0 ? "<n>" : value;
  if (
    key === "environmentInfo" ||
    (key === "result" && value !== null && typeof value === "object" && "shell" in value)
  ) {
    // Departure §11.1: `extensions` is ours; the rest differs in content by design (§3.3).
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? `<environmentInfo ${Object.keys(value).filter((k) => k !== "extensions").sort().join(",")}>`
      : value;
  }
  // Departure §7.6 (notes §4): the reference's musl build always reports createdAtMs 0.
  if (key === "createdAtMs" && typeof value === "number") return "<birth>";
  // Chunk boundaries mean nothing (§5.4), and stdout/stderr interleave as reads complete.
  if (key === "chunks" && Array.isArray(value)) {
    const text: Record<string, string> = {};
    for (const chunk of value) {
      if (chunk === null || typeof chunk !== "object" || Array.isArray(chunk)) continue;
      const stream = String(chunk["stream"]);
      text[stream] = (text[stream] ?? "") + Buffer.from(String(chunk["chunk"]), "base64").toString("utf8");
    }
    return { count: value.length, text: normalize(Object.fromEntries(Object.entries(text).sort()), t) };
  }
  // Departure §11.6: droppedBytes is ours.
  if (
    value !== null && typeof value === "object" && !Array.isArray(value) && "droppedBytes" in value &&
    "nextSeq" in value
  ) {
    const { droppedBytes: _dropped, ...rest } = value;
    return normalize(rest, t, key);
  }
  if (typeof value === "string") return normString(value, t);
  // Departure §10.3: readDirectory entries are sorted here, in OS order in the reference.
  if (
    key === "entries" && Array.isArray(value) &&
    value.every((e) => e !== null && typeof e === "object" && "fileName" in e)
  ) {
    return value.map((item) => normalize(item, t)).sort((a, b) =>
      JSON.stringify(a).localeCompare(JSON.stringify(b))
    );
  }
  if (Array.isArray(value)) return value.map((item) => normalize(item, t));
  if (value !== null && typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const name of Object.keys(value).sort()) out[name] = normalize(value[name] ?? null, t, name);
    return out;
  }
  return value;
}

interface Outcome {
  /** Compared across targets. */
  readonly facts: Record<string, Json>;
  /** Shown with a difference, not compared (messages are worded differently by design). */
  readonly messages: Record<string, string>;
}

function fill(frame: string, t: TargetCtx): string {
  return frame
    .replaceAll("<TMPURI>", pathToUri(t.dir))
    .replaceAll("<TMP>", t.dir)
    .replaceAll("<SESSION>", t.sessionId ?? "00000000-0000-4000-8000-000000000001");
}

/** The ids a frame asks a reply for, as the server would echo them (undefined when none). */
function requestId(frame: string): Json | undefined {
  try {
    const message = JSON.parse(frame) as unknown;
    if (message === null || typeof message !== "object" || Array.isArray(message)) return undefined;
    const record = message as Record<string, Json>;
    const id = record["id"];
    if (typeof record["method"] !== "string" || id === undefined) return undefined;
    if (typeof id === "string" || (typeof id === "number" && Number.isSafeInteger(id))) return id;
  } catch { /* not JSON */ }
  return undefined;
}

async function runCase(one: Case, t: TargetCtx): Promise<Outcome> {
  const facts: Record<string, Json> = {};
  const messages: Record<string, string> = {};
  const wire = await Wire.open(t.url);
  const deadline = Date.now() + CASE_DEADLINE_MS;
  try {
    if (one.phase !== "new") {
      wire.ws.send(render({ id: "init", method: "initialize", params: { clientName: "fuzz" } }));
      await wire.until(() => wire.reply("init") !== undefined, deadline);
      const init = wire.reply("init");
      const sessionId = (init?.["result"] as Record<string, Json> | undefined)?.["sessionId"];
      if (typeof sessionId === "string") t.sessionId = sessionId;
      if (one.phase === "ready") wire.ws.send(render({ method: "initialized", params: {} }));
    }
    const frames = one.method === "<envelope>" ? [one.mutation] : one.frames;
    // Setup requests (ids "s<n>") go one at a time: once ready, requests run concurrently (§2.5).
    for (const frame of frames) {
      wire.ws.send(fill(frame, t));
      const id = requestId(frame);
      if (typeof id === "string" && id.startsWith("s")) {
        await wire.until(() => wire.reply(id) !== undefined, deadline);
      }
      if (typeof id === "string" && id.startsWith("sw")) {
        await wire.until(
          () => wire.received.some((m) => typeof m === "object" && m["method"] === "process/closed"),
          deadline,
        );
      }
    }
    const ids = frames.map(requestId).filter((id): id is Json => id !== undefined);
    // A barrier: the reference answers in order, so its reply comes after every earlier one.
    wire.ws.send(
      render({ id: "zz-barrier", method: "fs/getMetadata", params: { path: "file:///", sandbox: null } }),
    );
    let end = await wire.until(
      () => wire.reply("zz-barrier") !== undefined && ids.every((id) => wire.reply(id) !== undefined),
      deadline,
    );
    // Processes started: end the long ones and wait for every one's `process/closed`.
    const started = new Set<string>();
    for (const message of wire.received) {
      if (typeof message !== "object" || "method" in message) continue;
      const result = message["result"];
      if (
        result !== null && typeof result === "object" && !Array.isArray(result) &&
        typeof result["processId"] === "string" && "sandboxType" in result
      ) {
        started.add(result["processId"]);
      }
    }
    const closedIds = () =>
      new Set(
        wire.received.flatMap((m) =>
          typeof m === "object" && m["method"] === "process/closed"
            ? [String((m["params"] as Record<string, Json>)["processId"])]
            : []
        ),
      );
    if (end === "done" && started.size > 0) {
      await wire.until(() => [...started].every((id) => closedIds().has(id)), Date.now() + 300);
      let n = 0;
      for (const id of started) {
        if (!closedIds().has(id)) {
          wire.ws.send(
            render({ id: `zz-term-${n++}`, method: "process/terminate", params: { processId: id } }),
          );
        }
      }
      end = await wire.until(() => [...started].every((id) => closedIds().has(id)), deadline);
    }
    void end;
    // Replies, keyed by the id's JSON text (several replies to one id are listed in arrival order).
    const replies: Record<string, Json[]> = {};
    const notes: Record<string, Json[]> = {};
    for (const message of wire.received) {
      if (typeof message === "string") {
        (replies["<non-JSON>"] ??= []).push(normString(message, t));
        continue;
      }
      if (typeof message["method"] === "string") {
        const params = message["params"] as Record<string, Json> | undefined;
        const pid = String(params?.["processId"] ?? "?");
        (notes[pid] ??= []).push(normalizeNotification(message, t));
        continue;
      }
      const key = JSON.stringify(message["id"] ?? null);
      if (key === '"init"' || key.startsWith('"zz-')) continue;
      const error = message["error"] as Record<string, Json> | undefined;
      let entry: Json;
      if (error !== undefined) {
        entry = { error: error["code"] ?? null };
        messages[key] = normString(String(error["message"]), t);
      } else entry = { result: normalize(message["result"] ?? null, t, "result") };
      (replies[key] ??= []).push(entry);
    }
    facts["replies"] = Object.fromEntries(Object.entries(replies).sort(([a], [b]) => a.localeCompare(b)));
    facts["notifications"] = Object.fromEntries(
      Object.entries(notes).sort(([a], [b]) => a.localeCompare(b)).map((
        [pid, list],
      ) => [pid, summarizeEvents(list)]),
    );
    facts["closed"] = wire.closed;
    // §2.2: replies mirror the client's first message's `jsonrpc`.
    facts["jsonrpc"] = wire.received.filter((m) => typeof m === "object" && "jsonrpc" in m).length;
  } finally {
    wire.ws.close();
  }
  return { facts, messages };
}

function normalizeNotification(message: Record<string, Json>, t: TargetCtx): Json {
  return { method: message["method"] ?? null, params: normalize(message["params"] ?? null, t) };
}

/** A process's notifications reduced to what is comparable: output joined per stream, the rest in seq order. */
function summarizeEvents(list: Json[]): Json {
  const text: Record<string, string> = {};
  const kinds: string[] = [];
  const other: Json[] = [];
  const events = list as { method: string; params: Record<string, Json> }[];
  const sorted = [...events].sort((a, b) => Number(a.params?.["seq"]) - Number(b.params?.["seq"]));
  sorted.forEach((event, index) => {
    const seq = Number(event.params?.["seq"]);
    if (seq !== index + 1) kinds.push(`gap@${index + 1}`);
    if (event.method === "process/output") {
      const stream = String(event.params["stream"]);
      text[stream] = (text[stream] ?? "") +
        Buffer.from(String(event.params["chunk"]), "base64").toString("utf8");
      if (kinds[kinds.length - 1] !== "output") kinds.push("output");
    } else {
      kinds.push(event.method);
      const { seq: _seq, processId: _pid, ...rest } = event.params ?? {};
      other.push({ method: event.method, ...rest });
    }
  });
  // The reference's npm launcher adds CODEX_MANAGED_* to its own environment, which children inherit.
  for (const stream of Object.keys(text)) {
    text[stream] = (text[stream] ?? "").replace(/^CODEX_MANAGED_[A-Z_]*=.*\n/gm, "");
  }
  const streams = Object.fromEntries(Object.entries(text).sort(([a], [b]) => a.localeCompare(b)));
  return { kinds: kinds.filter((k) => k !== "output").join(","), text: streams, other };
}

// ---------------------------------------------------------------------------------------------
// Classification of the documented departures (docs/protocol.md §10.3, spec_deltas.md, notes)

interface Facet {
  readonly key: string;
  readonly values: Partial<Record<TargetName, string>>;
  readonly label: string | undefined;
}

interface Diff {
  readonly one: Case;
  readonly facets: Facet[];
  readonly messages: Partial<Record<TargetName, Record<string, string>>>;
}

/** `{replies: {"100": [...]}, notifications: {p1: ...}, closed}` as `replies 100`, `notifications p1`, `closed`. */
function flatten(facts: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [name, value] of Object.entries(facts)) {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value)) out[`${name} ${inner}`] = v;
    } else out[name] = value;
  }
  return out;
}

const EXTENSION_METHODS = new Set(["process/resize", "process/closeStdin", "process/list"]);
const NOT_SERVED = new Set(["fs/watchMissing", "environmentConfig/read", "http/request"]);

/** The documented reason for a difference in one facet, or undefined when there is none. */
function classifyFacet(
  one: Case,
  key: string,
  values: Partial<Record<TargetName, string>>,
  messages: Partial<Record<TargetName, Record<string, string>>>,
): string | undefined {
  const codex = values.codex ?? "";
  const ours = [values.bun ?? "", values.deno ?? ""];
  const both = (pattern: RegExp) => ours.every((o) => pattern.test(o));
  const m = one.mutation;
  const underTest = key === "replies 100" || key === "replies 101" || key === "replies 1";
  if (EXTENSION_METHODS.has(one.method)) {
    return "§11.3/§11.7/§11.8: extension methods (reference: -32601), and what they do to the process";
  }
  if (NOT_SERVED.has(one.method) && underTest) {
    return "§10.3/§4.4: not served, -32601 (reference: its own params check)";
  }
  if (
    key.startsWith("notifications") && /"exitCode":1,/.test(codex) &&
    both(/"exitCode":1(29|3[0-9]|4[0-9]|59),/)
  ) {
    return "§10.3/§5.10: terminal signal deaths are 128+N (reference: 1)";
  }
  if (
    one.phase !== "ready" && underTest && codex === '[{"error":-32602}]' && both(/^\[\{"error":-32600\}\]$/)
  ) {
    return "§2.4: the handshake state is checked before the params (the reference checks params first)";
  }
  if (one.method === "initialize" && one.phase !== "new" && codex.includes("-32602") && both(/-32600/)) {
    return "§2.4/§3.1: a second initialize is -32600 whatever its params";
  }
  if (one.method === "environment/info" && underTest && codex.includes("-32602")) {
    return "§3.3: environment/info ignores its params (the reference takes only null or {})";
  }
  if (one.method === "<id>" && /id -?900719925474099[2-9]/.test(m)) {
    return "§2.3: ids beyond ±(2^53−1) are parse errors";
  }
  if (one.method === "<envelope>" && /"id":1,"id":2|"path":"x"\}/.test(m)) {
    return "protocol_notes §9: a repeated member name takes the last value (the reference: parse error)";
  }
  if (/binaryFrames/.test(m)) return "§11.12: binaryFrames is an extension (boolean or null)";
  if (
    one.method === "process/signal" && /signal=("(terminate|kill|hangup|quit|user1|user2)"|\d+( |$))/.test(m)
  ) {
    return "§11.5: more signals";
  }
  if (one.method === "process/write" && /writeId=null|drop writeId/.test(m)) return "§10.3: writeId optional";
  if (/(path|Path|cwd)="<TMP>\//.test(m)) return "§10.3/§10.4: native absolute paths accepted";
  // The 0.121-era form is accepted for processes as well (§10.4: "both forms, everywhere").
  if (/sandboxPolicy/.test(m) && (one.method.startsWith("fs/") || one.method === "process/start")) {
    return "§10.4: both sandbox forms everywhere";
  }
  if (one.method === "fs/close" && /handleId="x{40}"/.test(m)) {
    return "§7.13: fs/close of an unknown handle is {}";
  }
  if (/size=|limits=|timeoutMs=/.test(m) && one.method === "process/start") {
    return "§11.2/§11.4/§11.11: extensions";
  }
  if (one.method === "fs/walk" && /maxDirectories":0|maxEntries":0/.test(m)) {
    return "protocol_notes §2: zero walk limits";
  }
  if (/env=\{"":|env=\{"A=B"/.test(m)) return "§5.1/§10.3: env names non-empty, without =";
  if (one.method === "fs/readBlock" && /"eof":false/.test(codex) && both(/"eof":true/)) {
    return "§7.13: eof once offset + bytes reach the size (the reference: only on a short read)";
  }
  if (key === "jsonrpc" && /"jsonrpc"/.test(one.method === "<envelope>" ? m : one.frames.join(""))) {
    return "§2.2: replies mirror a client's jsonrpc member (the reference never sends one)";
  }
  if (/=(1\.0|1e2|-0)$|=(1\.0|1e2|-0) /.test(m) && codex.includes("-32602")) {
    return "notation: a number is its value; 1.0 is the integer 1 (the reference refuses a fraction or exponent in a u64)";
  }
  if (
    one.method === "process/start" && /"sandboxType":"linuxSeccomp"/.test(codex) &&
    both(/"sandboxType":"none"/)
  ) {
    return "§8.3: external and unrestricted-with-network run unsandboxed, sandboxType none";
  }
  if (
    one.method === "process/start" && /argv=\[("",|"")|\\u0000/.test(m) && codex.includes("-32603") &&
    both(/-32602/)
  ) {
    return "§5.1: an empty argv[0] or a NUL in argv is -32602 (the reference fails the spawn)";
  }
  if (
    one.method === "process/start" && key === "replies 101" && codex.includes("-32603") && both(/-3260[03]/)
  ) {
    // Which one depends on whether the first start has failed (and released the id) when it arrives.
    return "§5.1: a pipelined start with a starting id is -32600 already exists (the reference runs them one by one)";
  }
  if (one.method === "process/start" && /processId="x{50,}/.test(m)) {
    return "§5.1: a processId is at most 1024 bytes";
  }
  if (one.method === "initialize" && /resumeSessionId="/.test(m) && both(/-32600/)) {
    return "§3.7: an unknown session id is -32600 (the reference sends no reply to one that is no UUID)";
  }
  if (/env=\{[^}]*\\u0000/.test(m) && codex.includes("-32603") && both(/-32602/)) {
    return "§5.1: NUL in env is -32602 (the reference fails the spawn, -32603)";
  }
  if (one.method === "initialize" && one.phase === "new" && codex === '"<none>"' && both(/-32602/)) {
    return "§3.2: bad initialize params are -32602 (the reference sends no reply)";
  }
  if (/=null/.test(m) && codex.includes("-32602") && both(/"result"/)) {
    return "notation: an optional member that is null means absent (the reference refuses null for some)";
  }
  if (/file:\/\/build-7/.test(m) && codex.includes("-32600") && both(/-32602/)) {
    return "§9.2: another host is -32602";
  }
  if (/maxBytes=/.test(m) && one.method === "fs/readFile") return "§11.10: fs/readFile maxBytes";
  if (/"permissions":\{"type":"disabled"\},"sandboxPolicy"/.test(one.frames.join(""))) {
    return "§8.1: both sandbox forms at once are -32602";
  }
  if (/(managedNetwork|networkProxy|shellSnapshot)=/.test(m)) {
    return "§5.1: a non-null managedNetwork, networkProxy or shellSnapshot is -32602";
  }
  if (/handleId="(x|a){33,}|handleId="é{17}/.test(m) && codex.includes("-32600") && both(/-32004/)) {
    return "§7.13: an unknown handle on a block call is -32004";
  }
  if (one.method === "fs/walk" && /link-dir/.test(m)) {
    return "§7.1: the walk's root is resolved like any path (the reference: a root symlink lists nothing)";
  }
  if (/Invalid padding/.test(JSON.stringify(messages.codex ?? {})) && both(/"result"/)) {
    return "notation: base64 padding optional when received";
  }
  if (one.method === "process/start" && /metadata=\{/.test(m)) {
    return "§5.1: metadata members are ignored (the reference checks some)";
  }
  if (/="(<TMPURI>[^"]*(%2F|%ff|%00|%zz|\?q=1|#frag)[^"]*|file:\/\/)"/.test(m) && both(/-32602/)) {
    return "§9.1/§9.2: a malformed URI is -32602 (the reference reads some as other paths)";
  }
  if (
    /=(9007199254740992|-9007199254740994|1e\+?300|4294967296|9223372036854776000)/.test(m) && both(/-32602/)
  ) {
    return "notation: an Int is at most 2^53−1";
  }
  return undefined;
}

/** Classifies every facet; a facet left over in a case whose request differs for a documented reason follows from it. */
function classifyAll(
  one: Case,
  facets: Facet[],
  messages: Partial<Record<TargetName, Record<string, string>>>,
): Facet[] {
  const labelled = facets.map((facet) => ({
    ...facet,
    label: classifyFacet(one, facet.key, facet.values, messages),
  }));
  const reason = labelled.find((facet) => facet.label !== undefined && facet.key.startsWith("replies"))
    ?.label;
  return labelled.map((facet) =>
    facet.label === undefined && reason !== undefined && facet.key.startsWith("notifications")
      ? { ...facet, label: `follows from: ${reason}` }
      : facet
  );
}

/** Seeds the shared read-only files. */
async function seed(dir: string): Promise<void> {
  const s = join(dir, "seed");
  await mkdir(join(s, "dir", "inner"), { recursive: true });
  await mkdir(join(s, "empty"));
  await writeFile(join(s, "a.txt"), "seed file\n");
  await writeFile(join(s, "dir", "b.txt"), "b\n");
  await writeFile(join(s, "sp ace.txt"), "space\n");
  await writeFile(join(s, "ü.txt"), "umlaut\n");
  await symlink(join(s, "a.txt"), join(s, "link"));
  await symlink(join(s, "dir"), join(s, "link-dir"));
  await symlink(join(s, "nowhere"), join(s, "dangling"));
  await symlink(join(s, "loop"), join(s, "loop"));
  await new Promise<void>((resolve, reject) => {
    spawn("mkfifo", [join(s, "fifo")]).once(
      "exit",
      (code) => code === 0 ? resolve() : reject(new Error("mkfifo")),
    );
  });
}

async function main(): Promise<number> {
  if (TARGETS.includes("codex") && !existsSync(REFERENCE_BIN)) {
    console.error(`reference not found at ${REFERENCE_BIN}; install @openai/codex@0.169.0 (see the header)`);
    return 2;
  }
  const gen = new Gen(SEED);
  const cases: Case[] = [];
  if (PROBE !== undefined) {
    // Hand-written cases: a JSON array of {phase, frames: [message or text]}.
    const list = JSON.parse(await readFile(PROBE, "utf8")) as { phase?: Phase; frames: unknown[] }[];
    list.forEach((entry, index) =>
      cases.push({
        index,
        method: "<probe>",
        mutation: `probe ${index}`,
        phase: entry.phase ?? "ready",
        frames: entry.frames.map((frame) => typeof frame === "string" ? frame : render(frame)),
      })
    );
  }
  for (let index = 0; PROBE === undefined && cases.length < CASES; index++) {
    const one = makeCase(index, gen);
    if (one !== undefined) cases.push(one);
  }
  const base = await realpath(await mkdtemp(join(tmpdir(), "protocol-fuzz-")));
  const outcomes = new Map<TargetName, Outcome[]>();
  try {
    await Promise.all(TARGETS.map(async (target) => {
      const root = join(base, target);
      const dir = join(root, "work");
      const home = join(root, "home");
      await mkdir(dir, { recursive: true });
      await mkdir(home, { recursive: true });
      await seed(dir);
      await using server = await startTarget(target, home);
      const t: TargetCtx = { target, dir, url: server.url };
      const list: Outcome[] = [];
      for (const one of cases) {
        try {
          list.push(await runCase(one, t));
        } catch (error) {
          list.push({ facts: { failed: String(error) }, messages: {} });
        }
      }
      outcomes.set(target, list);
    }));
  } finally {
    await rm(base, { recursive: true, force: true });
  }
  const diffs: Diff[] = [];
  cases.forEach((one, index) => {
    const facts: Partial<Record<TargetName, Record<string, Json>>> = {};
    const messages: Partial<Record<TargetName, Record<string, string>>> = {};
    for (const target of TARGETS) {
      const outcome = outcomes.get(target)?.[index];
      facts[target] = flatten(outcome?.facts ?? {});
      messages[target] = outcome?.messages ?? {};
    }
    const keys = new Set(TARGETS.flatMap((target) => Object.keys(facts[target] ?? {})));
    const facets: Facet[] = [];
    for (const key of [...keys].sort()) {
      const values: Partial<Record<TargetName, string>> = {};
      for (const target of TARGETS) values[target] = JSON.stringify(facts[target]?.[key] ?? "<none>");
      const first = values[TARGETS[0] as TargetName];
      if (TARGETS.some((target) => values[target] !== first)) {
        facets.push({ key, values, label: undefined });
      }
    }
    if (facets.length > 0) diffs.push({ one, facets: classifyAll(one, facets, messages), messages });
  });
  const byLabel = new Map<string, number>();
  const unclassified: Diff[] = [];
  for (const diff of diffs) {
    for (const facet of diff.facets) {
      byLabel.set(facet.label ?? "UNCLASSIFIED", (byLabel.get(facet.label ?? "UNCLASSIFIED") ?? 0) + 1);
    }
    if (diff.facets.some((facet) => facet.label === undefined)) unclassified.push(diff);
  }
  console.log(
    `${cases.length} cases x ${TARGETS.length} targets, seed ${SEED}: ${diffs.length} differ, ${unclassified.length} unclassified`,
  );
  for (const [label, count] of [...byLabel].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${String(count).padStart(4)}  ${label}`);
  }
  if (JSON_OUT !== undefined) await writeFile(JSON_OUT, JSON.stringify({ cases, diffs }, null, 1));
  for (const diff of VERBOSE ? diffs : unclassified) {
    console.log(`\n● #${diff.one.index} ${diff.one.method} [${diff.one.phase}] ${diff.one.mutation}`);
    for (const frame of diff.one.frames.slice(-2)) console.log(`    > ${frame.slice(0, 300)}`);
    for (const facet of diff.facets) {
      console.log(`  ${facet.key}  [${facet.label ?? "UNCLASSIFIED"}]`);
      for (const target of TARGETS) {
        console.log(`    ${target.padEnd(5)}: ${facet.values[target]?.slice(0, 500)}`);
      }
    }
    for (const target of TARGETS) {
      const m = diff.messages[target];
      if (m !== undefined && Object.keys(m).length > 0) {
        console.log(`    ${target.padEnd(5)}  ${JSON.stringify(m).slice(0, 400)}`);
      }
    }
  }
  return 0;
}

process.exitCode = await main();
