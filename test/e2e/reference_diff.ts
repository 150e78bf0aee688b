/**
 * Differential harness: runs the same scripted sessions against the Codex 0.169 reference
 * exec-server and against this server under Bun and Deno, normalizes volatile values and prints
 * every difference. A script, not part of `npm test`: CI machines may not have the reference.
 *
 *     mkdir -p /tmp/codexref && cd /tmp/codexref && npm i @openai/codex@0.169.0
 *     bun test/e2e/reference_diff.ts [--ref /path/to/codex] [--only substring] [--verbose]
 *
 * Everything the reference does is real: every path a session touches lies inside a temp dir the
 * harness creates for that target, and `fs/remove` is refused by the harness itself otherwise.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { startTarget, TARGETS, Wire } from "./reference_wire.ts";
import type { Json, Message, TargetName } from "./reference_wire.ts";

const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  const index = argv.indexOf(name);
  return index === -1 ? undefined : argv[index + 1];
}
const REFERENCE_BIN = flag("--ref") ?? "/tmp/codexref/node_modules/.bin/codex";
const ONLY = flag("--only");
const VERBOSE = argv.includes("--verbose");

/** The environment every server gets, so `envPolicy: {inherit: "all"}` sees the same values. */
function serverEnv(home: string): Record<string, string> {
  return {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: home,
    CODEX_HOME: join(home, ".codex"),
    LANG: "C.UTF-8",
    SHELL: "/bin/bash",
    HARNESS_KEEP: "kept",
    HARNESS_DROP_ME: "dropped",
    HARNESS_TOKEN: "default-exclude-ignored",
  };
}

// ---------------------------------------------------------------------------------------------
// Normalization

interface Normalizer {
  readonly dirs: string[]; // native forms of the target's temp dir (as given, and realpath)
  readonly home: string;
  readonly errorData: Set<string>; // whether error objects carried `data`, tallied per run
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

function normString(text: string, norm: Normalizer): string {
  let out = text;
  for (const dir of norm.dirs) {
    out = out.split(pathToUri(dir)).join("file://<TMP>").split(dir).join("<TMP>");
  }
  out = out.split(pathToUri(norm.home)).join("file://<HOME>").split(norm.home).join("<HOME>");
  return out
    .replace(UUID, "<uuid>")
    .replace(/websocket 127\.0\.0\.1:\d+/g, "websocket 127.0.0.1:<port>");
}

function normalize(value: Json, norm: Normalizer, key = ""): Json {
  if (key === "sessionId" && typeof value === "string") return "<sessionId>";
  if (key === "providerId" && typeof value === "string") return "<providerId>";
  if ((key === "createdAtMs" || key === "modifiedAtMs") && typeof value === "number") {
    return value > 0 ? "<ms>" : value;
  }
  if (key === "environmentInfo" && value !== null && typeof value === "object" && !Array.isArray(value)) {
    return normalizeEnvironmentInfo(value, norm);
  }
  if (typeof value === "string") return normString(value, norm);
  if (Array.isArray(value)) return value.map((item) => normalize(item, norm));
  if (value !== null && typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const name of Object.keys(value).sort()) out[name] = normalize(value[name] ?? null, norm, name);
    return out;
  }
  return value;
}

/** environmentInfo contents differ by design (§3.3, §10.3): keep the member names and types. */
function normalizeEnvironmentInfo(info: Record<string, Json>, norm: Normalizer): Json {
  const out: Record<string, Json> = {};
  for (const name of Object.keys(info).sort()) {
    const value = info[name] ?? null;
    if (name === "shell") out[name] = normalize(value, norm);
    else if (name === "platformOs") out[name] = value;
    else if (
      name === "capabilities" && value !== null && typeof value === "object" && !Array.isArray(value)
    ) {
      out[name] = Object.keys(value).sort().join(",");
    } else out[name] = Array.isArray(value) ? "<array>" : `<${typeof value}>`;
  }
  return out;
}

/** A reply, normalized: `{result}` or `{error: {code, message}}`; `data` is noted separately. */
function normalizeReply(reply: Message, norm: Normalizer): Json {
  const out: Record<string, Json> = {};
  for (const name of Object.keys(reply).sort()) {
    if (name === "id") continue;
    const value = reply[name] ?? null;
    if (name === "error" && value !== null && typeof value === "object" && !Array.isArray(value)) {
      // Error `data` is ours alone (§10.3); its presence is tallied once, not per step.
      const { data, ...rest } = value;
      norm.errorData.add(data === undefined ? "absent" : "present");
      out[name] = normalize(rest, norm);
    } else out[name] = normalize(value, norm);
  }
  return out;
}

/** A `process/read` reply with its chunks joined per stream: stdout and stderr reads race. */
function normalizeReadReply(reply: Message, norm: Normalizer): Json {
  const result = reply["result"];
  if (result === null || typeof result !== "object" || Array.isArray(result)) {
    return normalizeReply(reply, norm);
  }
  const chunks = Array.isArray(result["chunks"]) ? result["chunks"] : [];
  const text: Record<string, string> = {};
  for (const chunk of chunks) {
    if (chunk === null || typeof chunk !== "object" || Array.isArray(chunk)) continue;
    const stream = String(chunk["stream"]);
    text[stream] = (text[stream] ?? "") + Buffer.from(String(chunk["chunk"]), "base64").toString("utf8");
  }
  const seqs = chunks.map((
    chunk,
  ) => (chunk !== null && typeof chunk === "object" && !Array.isArray(chunk) ? chunk["seq"] ?? null : null));
  return normalizeReply({ ...reply, result: { ...result, chunks: { seqs, text } } }, norm);
}

/**
 * A process's notifications, reduced to what is comparable across servers: chunk boundaries mean
 * nothing (§5.4), so output is joined per stream; the seq facts are checked and reported.
 */
function normalizeEvents(events: Message[], norm: Normalizer): Json {
  const text: Record<string, string> = {};
  const seqs: number[] = [];
  const kinds: string[] = [];
  const paramKeys: Record<string, string> = {};
  let exited: Json = null;
  for (const event of events) {
    const method = String(event["method"]);
    const params = event["params"] as Record<string, Json>;
    seqs.push(Number(params["seq"]));
    kinds.push(method.replace("process/", ""));
    paramKeys[method] = Object.keys(params).sort().join(",");
    if (method === "process/output") {
      const stream = String(params["stream"]);
      text[stream] = (text[stream] ?? "") + Buffer.from(String(params["chunk"]), "base64").toString("utf8");
    }
    if (method === "process/exited") {
      const { processId: _processId, seq: _seq, ...rest } = params;
      exited = normalize(rest, norm);
    }
  }
  const sorted = [...seqs].sort((a, b) => a - b);
  const inSeqOrder = seqs.every((seq, index) => seq === sorted[index]);
  const gapFree = sorted.every((seq, index) => seq === index + 1);
  const kindsBySeq = events
    .map((event) =>
      [Number((event["params"] as Record<string, Json>)["seq"]), String(event["method"])] as const
    )
    .sort((a, b) => a[0] - b[0])
    .map(([, method]) => method.replace("process/", ""));
  const lastBySeq = kindsBySeq[kindsBySeq.length - 1];
  const exitedIndex = kindsBySeq.indexOf("exited");
  // The npm launcher of the reference puts these into its own environment; `inherit: "all"` passes
  // them on. They come from how the reference is started, not from the server.
  for (const stream of Object.keys(text)) {
    text[stream] = (text[stream] ?? "").replace(/^CODEX_MANAGED_[A-Z_]*=.*\n/gm, "");
  }
  return {
    output: normalize(text, norm),
    exited,
    gapFreeFromOne: gapFree,
    closedLastBySeq: lastBySeq === "closed",
    exitedBeforeClosedBySeq: exitedIndex !== -1 && exitedIndex < kindsBySeq.indexOf("closed"),
    outputAfterExitedBySeq: exitedIndex !== -1 && kindsBySeq.slice(exitedIndex + 1).includes("output"),
    arrivalInSeqOrder: inSeqOrder,
    // By method name, not by arrival: where output may follow exited, so may its first message.
    paramKeys: Object.fromEntries(Object.entries(paramKeys).sort(([a], [b]) => a.localeCompare(b))),
  };
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Step {
  readonly label: string;
  readonly value: Json;
}

class Ctx {
  readonly steps: Step[] = [];
  readonly dir: string; // realpath of the target's temp dir
  readonly url: string;
  readonly norm: Normalizer;
  readonly wires: Wire[] = [];

  constructor(options: { dir: string; url: string; norm: Normalizer }) {
    this.dir = options.dir;
    this.url = options.url;
    this.norm = options.norm;
  }

  path(rel: string): string {
    return rel === "" ? this.dir : join(this.dir, rel);
  }

  uri(rel: string): string {
    return pathToUri(this.path(rel));
  }

  record(label: string, value: Json): void {
    this.steps.push({ label, value });
  }

  async open(): Promise<Wire> {
    const wire = await Wire.open(this.url);
    this.wires.push(wire);
    return wire;
  }

  /** A connection after the handshake exactly as Codex sends it (§10.1). */
  async session(): Promise<Wire> {
    const wire = await this.open();
    const id = wire.request("initialize", { clientName: "codex-environment", resumeSessionId: null });
    const reply = await wire.replyTo(id);
    if (!("result" in reply)) throw new Error(`initialize failed: ${JSON.stringify(reply)}`);
    wire.send({ method: "initialized", params: {} });
    return wire;
  }

  /** Sends a request, records the normalized reply under `label`, returns the raw reply. */
  async call(wire: Wire, label: string, method: string, params: unknown): Promise<Message> {
    guard(this, method, params);
    const id = wire.request(method, params);
    const reply = await wire.replyTo(id);
    this.record(
      label,
      method === "process/read" ? normalizeReadReply(reply, this.norm) : normalizeReply(reply, this.norm),
    );
    return reply;
  }

  async events(wire: Wire, label: string, processId: string): Promise<void> {
    const started = wire.received.some((entry) =>
      (entry.message?.["result"] as Record<string, Json> | undefined)?.["processId"] === processId
    );
    if (!started) {
      this.record(label, "<not started>");
      return;
    }
    const events = await wire.untilClosed(processId);
    this.record(label, normalizeEvents(events, this.norm));
  }
}

/** Refuses any fs/remove, fs/writeFile, fs/copy destination or cwd outside the target's temp dir. */
function guard(ctx: Ctx, method: string, params: unknown): void {
  if (typeof params !== "object" || params === null) return;
  const record = params as Record<string, unknown>;
  const members = method === "fs/remove" || method === "fs/writeFile" || method === "fs/createDirectory"
    ? ["path"]
    : method === "fs/copy"
    ? ["destinationPath"]
    : method === "fs/open" && record["mode"] === "replace"
    ? ["path"]
    : [];
  for (const member of members) {
    const value = record[member];
    if (typeof value !== "string") continue;
    const native = value.startsWith("file://") ? decodeURIComponent(value.slice("file://".length)) : value;
    if (!(native === ctx.dir || native.startsWith(`${ctx.dir}/`)) || native.includes("/..")) {
      throw new Error(`harness guard: ${method} ${member} ${value} is outside ${ctx.dir}`);
    }
  }
}

const b64 = (text: string): string => Buffer.from(text).toString("base64");

/** The `process/start` params Codex 0.169 sends for a shell command (§10.1). */
function codexStart(ctx: Ctx, processId: string, command: string, extra: Record<string, unknown> = {}) {
  return {
    processId,
    metadata: { threadId: "019a0000-0000-7000-8000-000000000001", callId: `call_${processId}` },
    argv: ["/bin/bash", "-lc", command],
    cwd: ctx.uri(""),
    envPolicy: {
      inherit: "all",
      ignoreDefaultExcludes: true,
      exclude: ["HARNESS_DROP_*"],
      set: {},
      includeOnly: [],
    },
    env: {
      NO_COLOR: "1",
      TERM: "dumb",
      LANG: "C.UTF-8",
      LC_CTYPE: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      COLORTERM: "",
      PAGER: "cat",
      GIT_PAGER: "cat",
      GH_PAGER: "cat",
      CODEX_CI: "1",
      CODEX_THREAD_ID: "019a0000-0000-7000-8000-000000000001",
      PIP_NO_INPUT: "1",
      npm_config_yes: "true",
      CODEX_SANDBOX_NETWORK_DISABLED: "",
    },
    tty: false,
    pipeStdin: false,
    arg0: null,
    sandbox: null,
    enforceManagedNetwork: false,
    managedNetwork: null,
    ...extra,
  };
}

type Scenario = (ctx: Ctx) => Promise<void>;

const SCENARIOS: Record<string, Scenario> = {
  async handshake(ctx) {
    const wire = await ctx.open();
    const init = wire.request("initialize", { clientName: "codex-environment", resumeSessionId: null });
    const reply = await wire.replyTo(init);
    ctx.record("initialize reply", normalizeReply(reply, ctx.norm));
    const raw = wire.received[0]?.text ?? "";
    ctx.record("initialize reply carries jsonrpc", raw.includes('"jsonrpc"'));
    ctx.record("initialize reply top-level keys (order)", Object.keys(JSON.parse(raw) as object).join(","));
    // initialized, then a pipelined burst of probes right behind it, as Codex does.
    wire.send({ method: "initialized", params: {} });
    const probes = [
      ctx.uri("AGENTS.md"),
      ctx.uri("AGENTS.override.md"),
      ctx.uri(".git"),
      ctx.uri("sub/.git"),
      ctx.uri(".agents/skills"),
      ctx.uri(""),
      "file:///nonexistent-harness-dir/AGENTS.md",
      "file:///nonexistent-harness-dir/.git",
    ];
    const ids = probes.map((path) => wire.request("fs/getMetadata", { path, sandbox: null }));
    const replies = await Promise.all(ids.map((id) => wire.replyTo(id)));
    replies.forEach((probe, index) =>
      ctx.record(`probe ${normString(probes[index] ?? "", ctx.norm)}`, normalizeReply(probe, ctx.norm))
    );
    const order = wire.received
      .map((entry) => entry.message?.["id"])
      .filter((id): id is number => typeof id === "number" && id > 1);
    ctx.record("probe reply arrival order", order.join(","));
    const info = await ctx.call(wire, "environment/info params null", "environment/info", null);
    ctx.record(
      "environment/info equals initialize environmentInfo",
      JSON.stringify(info["result"]) ===
        JSON.stringify((reply["result"] as Record<string, Json>)["environmentInfo"]),
    );
    await ctx.call(wire, "second initialize", "initialize", { clientName: "codex-environment" });
  },

  async handshakeErrors(ctx) {
    const wire = await ctx.open();
    await ctx.call(
      wire,
      "process/start before initialize",
      "process/start",
      codexStart(ctx, "early", "true"),
    );
    await ctx.call(wire, "fs/readFile before initialize", "fs/readFile", {
      path: ctx.uri("x"),
      sandbox: null,
    });
    await ctx.call(wire, "environment/info before initialize", "environment/info", null);
    await ctx.call(wire, "initialize without clientName", "initialize", {});
    await ctx.call(wire, "initialize params null", "initialize", null);
    await ctx.call(wire, "initialize (after failures)", "initialize", { clientName: "codex-environment" });
    await ctx.call(wire, "fs/readFile before initialized", "fs/readFile", {
      path: ctx.uri("x"),
      sandbox: null,
    });
    const other = await ctx.open();
    other.send({ method: "initialized", params: {} });
    const closed = await Promise.race([
      other.closed.then((event) => `closed ${event.code}`),
      new Promise<string>((resolve) => setTimeout(() => resolve("still open after 2s"), 2_000)),
    ]);
    ctx.record("initialized before initialize", closed);
  },

  async processCodexShape(ctx) {
    const wire = await ctx.session();
    const start = await ctx.call(
      wire,
      "process/start codex shape",
      "process/start",
      codexStart(ctx, "1234-aaaa", "echo out; echo err >&2; exit 3"),
    );
    ctx.record("process/start result keys", Object.keys((start["result"] ?? {}) as object).sort().join(","));
    await ctx.events(wire, "notifications of echo/exit 3", "1234-aaaa");
    const startIndex = wire.received.findIndex((entry) => entry.message?.["id"] === start["id"]);
    const firstEvent = wire.received.findIndex((entry) =>
      (entry.message?.["params"] as Record<string, Json> | undefined)?.["processId"] === "1234-aaaa"
    );
    ctx.record("start result before first notification", startIndex < firstEvent);
    await ctx.call(wire, "terminate after closed", "process/terminate", { processId: "1234-aaaa" });
    await ctx.call(wire, "process/read after closed", "process/read", {
      processId: "1234-aaaa",
      afterSeq: 0,
    });
    await ctx.call(
      wire,
      "duplicate process id (retained)",
      "process/start",
      codexStart(ctx, "1234-aaaa", "true"),
    );

    await ctx.call(
      wire,
      "process/start env check",
      "process/start",
      codexStart(
        ctx,
        "env-1",
        'printf "%s|" "$TERM" "$PAGER" "$NO_COLOR" "${COLORTERM-unset}" "$HARNESS_KEEP" ' +
          '"${HARNESS_DROP_ME-unset}" "$HARNESS_TOKEN" "$HOME" "$PWD"',
      ),
    );
    await ctx.events(wire, "env check output", "env-1");

    await ctx.call(wire, "process/start full env", "process/start", codexStart(ctx, "env-3", "env | sort"));
    await ctx.events(wire, "full env of a codex-shaped start", "env-3");

    await ctx.call(wire, "process/start no envPolicy", "process/start", {
      ...codexStart(ctx, "env-2", 'printf "%s|" "${HARNESS_KEEP-unset}" "$TERM"; env | wc -l'),
      envPolicy: null,
    });
    await ctx.events(wire, "no envPolicy output", "env-2");

    await ctx.call(wire, "process/start arg0", "process/start", {
      ...codexStart(ctx, "arg0-1", ""),
      argv: ["/bin/bash", "-c", 'echo "$0"'],
      arg0: "custom-zero",
    });
    await ctx.events(wire, "arg0 output", "arg0-1");

    await ctx.call(
      wire,
      "process/start large output",
      "process/start",
      codexStart(ctx, "big-1", "seq 1 20000"),
    );
    await ctx.events(wire, "large output", "big-1");
  },

  async processTerminate(ctx) {
    const wire = await ctx.session();
    await ctx.call(
      wire,
      "start sleep",
      "process/start",
      codexStart(ctx, "sleep-1", "echo ready; exec sleep 30"),
    );
    await wire.until(
      () => wire.notifications("sleep-1").find((message) => message["method"] === "process/output"),
      "ready",
    );
    await ctx.call(wire, "terminate while running", "process/terminate", { processId: "sleep-1" });
    await ctx.events(wire, "notifications after terminate", "sleep-1");
    await ctx.call(wire, "terminate after closed", "process/terminate", { processId: "sleep-1" });
    await ctx.call(wire, "terminate unknown id", "process/terminate", { processId: "never" });

    await ctx.call(
      wire,
      "start shell with child",
      "process/start",
      codexStart(ctx, "sh-2", "sleep 30 & echo ready; wait"),
    );
    await wire.until(
      () => wire.notifications("sh-2").find((message) => message["method"] === "process/output"),
      "ready",
    );
    await ctx.call(wire, "terminate shell with child", "process/terminate", { processId: "sh-2" });
    await ctx.events(wire, "notifications after terminate of shell", "sh-2");

    await ctx.call(
      wire,
      "start for interrupt",
      "process/start",
      codexStart(ctx, "int-1", "echo ready; exec sleep 30"),
    );
    await wire.until(
      () => wire.notifications("int-1").find((message) => message["method"] === "process/output"),
      "ready",
    );
    await ctx.call(wire, "signal interrupt", "process/signal", { processId: "int-1", signal: "interrupt" });
    await ctx.events(wire, "notifications after interrupt", "int-1");
    await ctx.call(wire, "signal unknown id", "process/signal", { processId: "never", signal: "interrupt" });
  },

  async processWrite(ctx) {
    const wire = await ctx.session();
    await ctx.call(wire, "start cat pipeStdin", "process/start", {
      ...codexStart(ctx, "cat-1", "exec cat"),
      pipeStdin: true,
    });
    await ctx.call(wire, "write w1", "process/write", {
      processId: "cat-1",
      chunk: b64("one\n"),
      writeId: "1",
    });
    await wire.until(
      () => wire.notifications("cat-1").find((message) => message["method"] === "process/output"),
      "cat echo",
    );
    await ctx.call(wire, "write w1 again (dedupe)", "process/write", {
      processId: "cat-1",
      chunk: b64("dup\n"),
      writeId: "1",
    });
    await ctx.call(wire, "write w2", "process/write", {
      processId: "cat-1",
      chunk: b64("two\n"),
      writeId: "2",
    });
    await ctx.call(wire, "write empty chunk", "process/write", {
      processId: "cat-1",
      chunk: "",
      writeId: "3",
    });
    await ctx.call(wire, "write bad base64", "process/write", {
      processId: "cat-1",
      chunk: "!!!",
      writeId: "4",
    });
    await ctx.call(wire, "write without writeId", "process/write", { processId: "nope", chunk: b64("x") });
    await ctx.call(wire, "write empty writeId", "process/write", {
      processId: "cat-1",
      chunk: b64("x"),
      writeId: "",
    });
    await ctx.call(wire, "write unknown process", "process/write", {
      processId: "nope",
      chunk: b64("x"),
      writeId: "5",
    });
    await wire.until(() => {
      const text = wire.notifications("cat-1")
        .filter((message) => message["method"] === "process/output")
        .map((message) => Buffer.from(String((message["params"] as Message)["chunk"]), "base64").toString())
        .join("");
      return text.includes("two\n") ? true : undefined;
    }, "cat two");
    await ctx.call(wire, "terminate cat", "process/terminate", { processId: "cat-1" });
    await ctx.events(wire, "cat notifications", "cat-1");
    await ctx.call(wire, "write after closed", "process/write", {
      processId: "cat-1",
      chunk: b64("x"),
      writeId: "6",
    });

    await ctx.call(
      wire,
      "start no pipeStdin",
      "process/start",
      codexStart(ctx, "nostdin-1", "exec sleep 30"),
    );
    await ctx.call(wire, "write to no-stdin process", "process/write", {
      processId: "nostdin-1",
      chunk: b64("x"),
      writeId: "1",
    });
    await ctx.call(wire, "terminate no-stdin", "process/terminate", { processId: "nostdin-1" });
    await ctx.events(wire, "no-stdin notifications", "nostdin-1");

    await ctx.call(wire, "start tty read", "process/start", {
      ...codexStart(ctx, "tty-1", "read line; echo got:$line"),
      tty: true,
    });
    await ctx.call(wire, "write tty", "process/write", {
      processId: "tty-1",
      chunk: b64("hello\n"),
      writeId: "1",
    });
    await ctx.events(wire, "tty notifications", "tty-1");
  },

  async processErrors(ctx) {
    const wire = await ctx.session();
    await ctx.call(wire, "read unknown process", "process/read", { processId: "nope", afterSeq: 0 });
    await ctx.call(wire, "start missing argv", "process/start", {
      processId: "bad-1",
      cwd: ctx.uri(""),
      env: {},
      tty: false,
    });
    await ctx.call(wire, "start empty argv", "process/start", { ...codexStart(ctx, "bad-2", ""), argv: [] });
    await ctx.call(wire, "start tty not boolean", "process/start", {
      ...codexStart(ctx, "bad-3", "true"),
      tty: "no",
    });
    await ctx.call(wire, "start params null", "process/start", null);
    await ctx.call(wire, "start missing cwd dir", "process/start", {
      ...codexStart(ctx, "bad-4", "true"),
      cwd: ctx.uri("missing-dir"),
    });
    await ctx.call(wire, "start missing program", "process/start", {
      ...codexStart(ctx, "bad-5", ""),
      argv: ["no-such-program-harness"],
    });
    // execvp's PATH search ends at a symbolic link loop instead of going on to /usr/bin.
    await ctx.call(wire, "start program behind a PATH loop", "process/start", {
      ...codexStart(ctx, "bad-7", ""),
      argv: ["echo", "after the loop"],
      envPolicy: { inherit: "none", ignoreDefaultExcludes: true, exclude: [], set: {}, includeOnly: [] },
      env: { PATH: `${ctx.path("loop")}:/usr/bin:/bin` },
    });
    await mkdir(ctx.path("no-exec"), { recursive: true });
    await writeFile(ctx.path("no-exec/echo"), "no shebang, no ELF\n", { mode: 0o755 });
    await ctx.call(wire, "start program behind a PATH file that is no executable", "process/start", {
      ...codexStart(ctx, "bad-8", ""),
      argv: ["echo", "after the file"],
      envPolicy: { inherit: "none", ignoreDefaultExcludes: true, exclude: [], set: {}, includeOnly: [] },
      env: { PATH: `${ctx.path("no-exec")}:/usr/bin:/bin` },
    });
    await ctx.call(wire, "start relative cwd", "process/start", {
      ...codexStart(ctx, "bad-6", "true"),
      cwd: "rel/dir",
    });
    await ctx.call(
      wire,
      "start after failed start, same id",
      "process/start",
      codexStart(ctx, "bad-5", "true"),
    );
    await ctx.events(wire, "reused id notifications", "bad-5");
    await ctx.call(wire, "start long-running", "process/start", codexStart(ctx, "dup-1", "exec sleep 30"));
    await ctx.call(wire, "duplicate process id (running)", "process/start", codexStart(ctx, "dup-1", "true"));
    await ctx.call(wire, "terminate dup-1", "process/terminate", { processId: "dup-1" });
    await ctx.events(wire, "dup-1 notifications", "dup-1");
    await ctx.call(wire, "read with negative afterSeq", "process/read", { processId: "dup-1", afterSeq: -1 });
    await ctx.call(wire, "signal bad name", "process/signal", { processId: "dup-1", signal: "bogus" });
  },

  async rpcErrors(ctx) {
    const wire = await ctx.session();
    await ctx.call(wire, "unknown method", "bogus/method", {});
    await ctx.call(wire, "fs/watchMissing", "fs/watchMissing", { watchId: "w", missing: [], present: null });
    await ctx.call(wire, "environmentConfig/read", "environmentConfig/read", {});
    await ctx.call(wire, "http/request", "http/request", {});
    const raw = async (label: string, text: string) => {
      const before = wire.received.length;
      wire.sendText(text);
      await wire.barrier();
      const replies = wire.received.slice(before, -1).map((entry) =>
        entry.message === null ? entry.text : normalizeReply(entry.message, ctx.norm)
      );
      const ids = wire.received.slice(before, -1).map((entry) => entry.message?.["id"] ?? null);
      ctx.record(label, { replies, ids } as Json);
    };
    await raw("parse error: invalid JSON", "{not json");
    await raw("parse error: truncated", '{"id":1,');
    await raw("parse error: empty", "");
    await raw("parse error: array", "[]");
    await raw("parse error: batch", '[{"id":90,"method":"environment/info","params":null}]');
    await raw("parse error: scalar", "42");
    await raw("parse error: method not a string", '{"id":91,"method":5}');
    await raw("parse error: null id", '{"id":null,"method":"environment/info","params":null}');
    await raw("parse error: fraction id", '{"id":1.5,"method":"environment/info","params":null}');
    await raw("parse error: no method, no result", '{"id":92}');
    await raw("string id echoed", '{"id":"abc","method":"environment/info","params":null}');
    await raw(
      "jsonrpc member accepted",
      '{"jsonrpc":"2.0","id":93,"method":"process/terminate","params":{"processId":"x"}}',
    );
    await raw("params missing", '{"id":94,"method":"process/terminate"}');
    await raw("params array", '{"id":95,"method":"process/terminate","params":["x"]}');
    await raw("unknown notification", '{"method":"bogus/notify","params":{}}').catch((error: unknown) => {
      ctx.record("unknown notification", `error: ${String(error)}`);
    });
    const state = await Promise.race([
      wire.closed.then((event) => `closed ${event.code}`),
      new Promise<string>((resolve) => setTimeout(() => resolve("open"), 1_000)),
    ]);
    ctx.record("connection after unknown notification", state);
  },

  async envelope(ctx) {
    const strict = await ctx.open();
    strict.sendText(
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientName":"codex-environment","resumeSessionId":null}}',
    );
    await strict.replyTo(1);
    strict.sendText('{"jsonrpc":"2.0","method":"initialized","params":{}}');
    strict.sendText(
      '{"jsonrpc":"2.0","id":2,"method":"fs/getMetadata","params":{"path":"file:///nonexistent-harness"}}',
    );
    await strict.replyTo(2);
    ctx.record(
      "replies to a jsonrpc-first client carry jsonrpc",
      strict.received.map((entry) => entry.text.includes('"jsonrpc":"2.0"')).join(","),
    );
    const wire = await ctx.session();
    const id = wire.request("fs/getMetadata", { path: "file:///nonexistent-harness", sandbox: null });
    await wire.replyTo(id);
    const text = wire.received.find((entry) => entry.message?.["id"] === id)?.text ?? "";
    ctx.record("error reply top-level keys (order)", Object.keys(JSON.parse(text) as object).join(","));
    ctx.record(
      "error object keys (order)",
      Object.keys((JSON.parse(text) as Message)["error"] as object).join(","),
    );
    await ctx.call(wire, "process/start empty processId", "process/start", codexStart(ctx, "", "echo empty"));
    await ctx.events(wire, "empty processId notifications", "");
    await ctx.call(wire, "process/terminate processId not a string", "process/terminate", { processId: 5 });
    await ctx.call(wire, "process/start env name with =", "process/start", {
      ...codexStart(ctx, "eq-1", "true"),
      env: { "A=B": "1" },
    });
  },

  async resume(ctx) {
    const first = await ctx.open();
    const init = first.request("initialize", { clientName: "codex-environment", resumeSessionId: null });
    const reply = await first.replyTo(init);
    const sessionId = String((reply["result"] as Message)["sessionId"]);
    first.send({ method: "initialized", params: {} });
    await ctx.call(
      first,
      "start in first session",
      "process/start",
      codexStart(ctx, "long-1", "exec sleep 30"),
    );
    const unknown = await ctx.open();
    await ctx.call(unknown, "resume unknown session", "initialize", {
      clientName: "codex-environment",
      resumeSessionId: "00000000-0000-4000-8000-000000000000",
    });
    const second = await ctx.open();
    const attached = second.request("initialize", {
      clientName: "codex-environment",
      resumeSessionId: sessionId,
    });
    const attachedReply = await second.replyTo(attached);
    ctx.record("resume attached session", normalizeReply(attachedReply, ctx.norm));
    await ctx.call(second, "initialize fresh after refused resume", "initialize", {
      clientName: "codex-environment",
      resumeSessionId: null,
    });
    second.send({ method: "initialized", params: {} });
    await ctx.call(second, "other session cannot see the process", "process/read", { processId: "long-1" });
    await ctx.call(second, "other session terminate", "process/terminate", { processId: "long-1" });
    first.close();
    await first.closed;
    const third = await ctx.open();
    // The server learns of the close asynchronously: retry the resume while it still says attached.
    let resumeReply: Message | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      const id = third.request("initialize", { clientName: "codex-environment", resumeSessionId: sessionId });
      resumeReply = await third.replyTo(id);
      if (!("error" in resumeReply)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    ctx.record("resume detached session", normalizeReply(resumeReply ?? {}, ctx.norm));
    third.send({ method: "initialized", params: {} });
    await ctx.call(third, "terminate after resume", "process/terminate", { processId: "long-1" });
    await ctx.events(third, "notifications after resume", "long-1");
  },

  async fsEdits(ctx) {
    const wire = await ctx.session();
    const target = ctx.uri("sub/dir/new.txt");
    await ctx.call(wire, "writeFile into missing dir", "fs/writeFile", {
      path: target,
      dataBase64: b64("nested\n"),
      sandbox: null,
    });
    await ctx.call(wire, "getMetadata of missing parent", "fs/getMetadata", {
      path: ctx.uri("sub"),
      sandbox: null,
    });
    await ctx.call(wire, "createDirectory recursive", "fs/createDirectory", {
      path: ctx.uri("sub/dir"),
      recursive: true,
      sandbox: null,
    });
    await ctx.call(wire, "writeFile retry", "fs/writeFile", {
      path: target,
      dataBase64: b64("nested\n"),
      sandbox: null,
    });
    await ctx.call(wire, "readFile", "fs/readFile", { path: target, sandbox: null });
    await ctx.call(wire, "getMetadata file", "fs/getMetadata", { path: target, sandbox: null });
    await ctx.call(wire, "getMetadata dir", "fs/getMetadata", { path: ctx.uri("sub"), sandbox: null });
    await ctx.call(wire, "getMetadata symlink", "fs/getMetadata", {
      path: ctx.uri("link-to-file"),
      sandbox: null,
    });
    await ctx.call(wire, "getMetadata dangling symlink", "fs/getMetadata", {
      path: ctx.uri("dangling"),
      sandbox: null,
    });
    await ctx.call(wire, "createDirectory existing recursive", "fs/createDirectory", {
      path: ctx.uri("sub/dir"),
      recursive: true,
      sandbox: null,
    });
    await ctx.call(wire, "createDirectory existing non-recursive", "fs/createDirectory", {
      path: ctx.uri("sub/dir"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "createDirectory over a file", "fs/createDirectory", {
      path: target,
      recursive: true,
      sandbox: null,
    });
    await ctx.call(wire, "createDirectory non-recursive missing parent", "fs/createDirectory", {
      path: ctx.uri("nope/deeper"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "createDirectory recursive omitted", "fs/createDirectory", {
      path: ctx.uri("defaulted/a/b"),
      sandbox: null,
    });
    await ctx.call(wire, "writeFile bad base64", "fs/writeFile", {
      path: ctx.uri("bad.txt"),
      dataBase64: "!!!not base64",
      sandbox: null,
    });
    await ctx.call(wire, "getMetadata after bad base64", "fs/getMetadata", {
      path: ctx.uri("bad.txt"),
      sandbox: null,
    });
    await ctx.call(wire, "writeFile unpadded base64", "fs/writeFile", {
      path: ctx.uri("unpadded.txt"),
      dataBase64: "aGk",
      sandbox: null,
    });
    await ctx.call(wire, "writeFile onto a directory", "fs/writeFile", {
      path: ctx.uri("sub"),
      dataBase64: b64("x"),
      sandbox: null,
    });
    await ctx.call(wire, "readFile missing", "fs/readFile", { path: ctx.uri("missing.txt"), sandbox: null });
    await ctx.call(wire, "readFile directory", "fs/readFile", { path: ctx.uri("sub"), sandbox: null });
    await ctx.call(wire, "readFile relative path", "fs/readFile", { path: "rel/x", sandbox: null });
    await ctx.call(wire, "readFile native path", "fs/readFile", {
      path: ctx.path("sub/dir/new.txt"),
      sandbox: null,
    });
    await ctx.call(wire, "readFile path not a string", "fs/readFile", { path: 5, sandbox: null });
    await ctx.call(wire, "readFile missing path member", "fs/readFile", { sandbox: null });
    await ctx.call(wire, "readFile percent-encoded", "fs/readFile", {
      path: ctx.uri("a b.txt"),
      sandbox: null,
    });
    await ctx.call(wire, "readDirectory", "fs/readDirectory", { path: ctx.uri(""), sandbox: null });
    await ctx.call(wire, "readDirectory of a file", "fs/readDirectory", { path: target, sandbox: null });
    await ctx.call(wire, "readDirectory missing", "fs/readDirectory", {
      path: ctx.uri("missing"),
      sandbox: null,
    });
    await ctx.call(wire, "canonicalize via symlink", "fs/canonicalize", {
      path: ctx.uri("link-to-sub/dir/../dir"),
      sandbox: null,
    });
    await ctx.call(wire, "canonicalize missing", "fs/canonicalize", {
      path: ctx.uri("missing"),
      sandbox: null,
    });
    await ctx.call(wire, "copy file", "fs/copy", {
      sourcePath: target,
      destinationPath: ctx.uri("copy.txt"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "readFile copy", "fs/readFile", { path: ctx.uri("copy.txt"), sandbox: null });
    await ctx.call(wire, "copy dir without recursive", "fs/copy", {
      sourcePath: ctx.uri("sub"),
      destinationPath: ctx.uri("sub-copy"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "copy dir recursive", "fs/copy", {
      sourcePath: ctx.uri("sub"),
      destinationPath: ctx.uri("sub-copy"),
      recursive: true,
      sandbox: null,
    });
    await ctx.call(wire, "copy dir into itself", "fs/copy", {
      sourcePath: ctx.uri("sub"),
      destinationPath: ctx.uri("sub/dir/inner"),
      recursive: true,
      sandbox: null,
    });
    await ctx.call(wire, "copy missing source", "fs/copy", {
      sourcePath: ctx.uri("missing"),
      destinationPath: ctx.uri("x-copy"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "copy file onto a directory", "fs/copy", {
      sourcePath: target,
      destinationPath: ctx.uri("sub-copy"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "copy symlink", "fs/copy", {
      sourcePath: ctx.uri("link-to-file"),
      destinationPath: ctx.uri("link-copy"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "getMetadata copied symlink", "fs/getMetadata", {
      path: ctx.uri("link-copy"),
      sandbox: null,
    });
    await ctx.call(wire, "copy without recursive member", "fs/copy", {
      sourcePath: target,
      destinationPath: ctx.uri("copy2.txt"),
      sandbox: null,
    });
    await ctx.call(wire, "walk", "fs/walk", {
      path: ctx.uri(""),
      options: { maxDepth: 2, maxDirectories: 100, maxEntries: 100, followDirectorySymlinks: false },
      sandbox: null,
    });
    await ctx.call(wire, "walk maxDepth 0", "fs/walk", {
      path: ctx.uri(""),
      options: { maxDepth: 0, maxDirectories: 100, maxEntries: 100, followDirectorySymlinks: false },
      sandbox: null,
    });
    await ctx.call(wire, "walk truncated by maxEntries", "fs/walk", {
      path: ctx.uri(""),
      options: { maxDepth: 5, maxDirectories: 100, maxEntries: 3, followDirectorySymlinks: false },
      sandbox: null,
    });
    await ctx.call(wire, "walk following symlinks", "fs/walk", {
      path: ctx.uri(""),
      options: { maxDepth: 1, maxDirectories: 100, maxEntries: 100, followDirectorySymlinks: true },
      sandbox: null,
    });
    await ctx.call(wire, "walk of a file", "fs/walk", {
      path: target,
      options: { maxDepth: 1, maxDirectories: 100, maxEntries: 100, followDirectorySymlinks: false },
      sandbox: null,
    });
    await ctx.call(wire, "walk missing root", "fs/walk", {
      path: ctx.uri("missing"),
      options: { maxDepth: 1, maxDirectories: 100, maxEntries: 100, followDirectorySymlinks: false },
      sandbox: null,
    });
    await ctx.call(wire, "walk missing options", "fs/walk", { path: ctx.uri(""), sandbox: null });
    await ctx.call(wire, "walk truncated by maxDirectories", "fs/walk", {
      path: ctx.uri(""),
      options: { maxDepth: 5, maxDirectories: 2, maxEntries: 100, followDirectorySymlinks: false },
      sandbox: null,
    });
    await ctx.call(wire, "copy dir recursive onto existing (merge)", "fs/copy", {
      sourcePath: ctx.uri("sub"),
      destinationPath: ctx.uri("sub-copy"),
      recursive: true,
      sandbox: null,
    });
    await ctx.call(wire, "copy file over existing file", "fs/copy", {
      sourcePath: ctx.uri("a b.txt"),
      destinationPath: ctx.uri("copy.txt"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "readFile overwritten copy", "fs/readFile", {
      path: ctx.uri("copy.txt"),
      sandbox: null,
    });
    await ctx.call(wire, "copy into missing parent", "fs/copy", {
      sourcePath: ctx.uri("a b.txt"),
      destinationPath: ctx.uri("nope/x.txt"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "createDirectory recursive null", "fs/createDirectory", {
      path: ctx.uri("nulled/a"),
      recursive: null,
      sandbox: null,
    });
    await ctx.call(wire, "remove flags null on missing", "fs/remove", {
      path: ctx.uri("missing"),
      recursive: null,
      force: null,
      sandbox: null,
    });
    await ctx.call(wire, "remove file non-recursive non-force", "fs/remove", {
      path: ctx.uri("copy.txt"),
      recursive: false,
      force: false,
      sandbox: null,
    });
    await ctx.call(wire, "remove missing non-force", "fs/remove", {
      path: ctx.uri("copy.txt"),
      recursive: false,
      force: false,
      sandbox: null,
    });
    await ctx.call(wire, "remove missing force", "fs/remove", {
      path: ctx.uri("copy.txt"),
      recursive: false,
      force: true,
      sandbox: null,
    });
    await ctx.call(wire, "remove non-empty dir non-recursive", "fs/remove", {
      path: ctx.uri("sub-copy"),
      recursive: false,
      force: false,
      sandbox: null,
    });
    await ctx.call(wire, "remove empty dir non-recursive", "fs/remove", {
      path: ctx.uri("empty-dir"),
      recursive: false,
      force: false,
      sandbox: null,
    });
    await ctx.call(wire, "remove symlink to dir", "fs/remove", {
      path: ctx.uri("link-to-sub"),
      recursive: false,
      force: false,
      sandbox: null,
    });
    await ctx.call(wire, "symlink target survives", "fs/getMetadata", {
      path: ctx.uri("sub"),
      sandbox: null,
    });
    await ctx.call(wire, "remove dir recursive", "fs/remove", {
      path: ctx.uri("sub-copy"),
      recursive: true,
      force: false,
      sandbox: null,
    });
    await ctx.call(wire, "readDirectory after edits", "fs/readDirectory", {
      path: ctx.uri(""),
      sandbox: null,
    });
  },

  async fsEdges(ctx) {
    const wire = await ctx.session();
    const meta = (label: string, path: string) =>
      ctx.call(wire, label, "fs/getMetadata", { path, sandbox: null });
    await meta("getMetadata through a file (ENOTDIR)", ctx.uri("a b.txt/AGENTS.md"));
    await meta("getMetadata file with trailing slash", `${ctx.uri("a b.txt")}/`);
    await meta("getMetadata name too long", ctx.uri("n".repeat(300)));
    await meta("getMetadata symlink loop", ctx.uri("loop/x"));
    await meta("getMetadata localhost authority", `file://localhost${ctx.path("a b.txt")}`);
    await meta("getMetadata other host", `file://build-7${ctx.path("a b.txt")}`);
    await meta("getMetadata query", `${ctx.uri("a b.txt")}?x=1`);
    await meta("getMetadata dot-dot after symlink", ctx.uri("link-to-sub/../a b.txt"));
    await meta("getMetadata fifo", ctx.uri("fifo"));
    await ctx.call(wire, "readFile through a file (ENOTDIR)", "fs/readFile", {
      path: ctx.uri("a b.txt/x"),
      sandbox: null,
    });
    await ctx.call(wire, "writeFile under a file (ENOTDIR)", "fs/writeFile", {
      path: ctx.uri("a b.txt/x"),
      dataBase64: b64("x"),
      sandbox: null,
    });
    await ctx.call(wire, "createDirectory under a file", "fs/createDirectory", {
      path: ctx.uri("a b.txt/x/y"),
      recursive: true,
      sandbox: null,
    });
    await ctx.call(wire, "writeFile through dangling symlink", "fs/writeFile", {
      path: ctx.uri("dangling"),
      dataBase64: b64("via link\n"),
      sandbox: null,
    });
    await meta("dangling symlink target after write", ctx.uri("nowhere"));
    await ctx.call(wire, "readFile symlink to dir", "fs/readFile", {
      path: ctx.uri("link-to-sub"),
      sandbox: null,
    });
    await ctx.call(wire, "readDirectory symlink to dir", "fs/readDirectory", {
      path: ctx.uri("link-to-sub"),
      sandbox: null,
    });
    await ctx.call(wire, "readDirectory with fifo", "fs/readDirectory", { path: ctx.uri(""), sandbox: null });
    await ctx.call(wire, "copy fifo", "fs/copy", {
      sourcePath: ctx.uri("fifo"),
      destinationPath: ctx.uri("fifo-copy"),
      recursive: false,
      sandbox: null,
    });
    await ctx.call(wire, "open fifo", "fs/open", { handleId: "f1", path: ctx.uri("fifo"), sandbox: null });
    await ctx.call(wire, "remove dangling symlink", "fs/remove", {
      path: ctx.uri("loop"),
      recursive: false,
      force: false,
      sandbox: null,
    });
    await ctx.call(wire, "start cwd is a file", "process/start", {
      ...codexStart(ctx, "cwdfile", "true"),
      cwd: ctx.uri("a b.txt"),
    });
    await ctx.call(wire, "start argv0 empty", "process/start", {
      ...codexStart(ctx, "argv0", ""),
      argv: [""],
    });
    await ctx.call(wire, "start program not executable", "process/start", {
      ...codexStart(ctx, "noexec", ""),
      argv: [ctx.path("a b.txt")],
    });
    await ctx.call(wire, "start pipeStdin null", "process/start", {
      ...codexStart(ctx, "pn", "true"),
      pipeStdin: null,
    });
    await ctx.call(wire, "start tty with arg0", "process/start", {
      ...codexStart(ctx, "ttyarg0", ""),
      argv: ["/bin/bash", "-c", 'echo "$0"'],
      arg0: "tty-zero",
      tty: true,
    });
    await ctx.events(wire, "tty arg0 output", "ttyarg0");
    wire.send({ method: "initialized" });
    await ctx.call(wire, "after second initialized without params", "process/terminate", { processId: "x" });
  },

  async fsSilent(ctx) {
    const wire = await ctx.session();
    const copy = (label: string, sourcePath: string, destinationPath: string, recursive: boolean) =>
      ctx.call(wire, label, "fs/copy", { sourcePath, destinationPath, recursive, sandbox: null });
    await ctx.call(wire, "writeFile target.txt", "fs/writeFile", {
      path: ctx.uri("target.txt"),
      dataBase64: b64("target\n"),
      sandbox: null,
    });
    await copy("copy symlink onto existing file", ctx.uri("link-to-file"), ctx.uri("target.txt"), false);
    await ctx.call(wire, "metadata after symlink copy onto file", "fs/getMetadata", {
      path: ctx.uri("target.txt"),
      sandbox: null,
    });
    await copy("copy file onto a symlink to a file", ctx.uri("sub-file.txt"), ctx.uri("link-to-file"), false);
    await ctx.call(wire, "symlink still a link after copy onto it", "fs/getMetadata", {
      path: ctx.uri("link-to-file"),
      sandbox: null,
    });
    await ctx.call(wire, "link target content after copy onto it", "fs/readFile", {
      path: ctx.uri("a b.txt"),
      sandbox: null,
    });
    await copy("copy dir onto an existing file", ctx.uri("sub"), ctx.uri("sub-file.txt"), true);
    await copy(
      "copy symlink to dir, non-recursive",
      ctx.uri("link-to-sub"),
      ctx.uri("link-to-sub-copy"),
      false,
    );
    await ctx.call(wire, "metadata of copied dir symlink", "fs/getMetadata", {
      path: ctx.uri("link-to-sub-copy"),
      sandbox: null,
    });
    await ctx.call(wire, "open replace on a directory", "fs/open", {
      handleId: "r1",
      path: ctx.uri("sub"),
      mode: "replace",
      sandbox: null,
    });
    await ctx.call(wire, "open replace in missing dir", "fs/open", {
      handleId: "r2",
      path: ctx.uri("missing/x"),
      mode: "replace",
      sandbox: null,
    });
    const walk = (label: string, options: Record<string, Json>) =>
      ctx.call(wire, label, "fs/walk", { path: ctx.uri("sub"), options, sandbox: null });
    await walk("walk maxDirectories 0", {
      maxDepth: 3,
      maxDirectories: 0,
      maxEntries: 100,
      followDirectorySymlinks: false,
    });
    await walk("walk maxEntries 0", {
      maxDepth: 3,
      maxDirectories: 10,
      maxEntries: 0,
      followDirectorySymlinks: false,
    });
    await walk("walk maxEntries exact", {
      maxDepth: 3,
      maxDirectories: 10,
      maxEntries: 2,
      followDirectorySymlinks: false,
    });
    await walk("walk negative maxDepth", {
      maxDepth: -1,
      maxDirectories: 10,
      maxEntries: 10,
      followDirectorySymlinks: false,
    });
    await ctx.call(wire, "createDirectory on dangling symlink", "fs/createDirectory", {
      path: ctx.uri("dangling"),
      recursive: true,
      sandbox: null,
    });
    await ctx.call(wire, "remove file with recursive true", "fs/remove", {
      path: ctx.uri("sub-file.txt"),
      recursive: true,
      force: false,
      sandbox: null,
    });
    await ctx.call(wire, "readBlock huge offset", "fs/open", {
      handleId: "h",
      path: ctx.uri("a b.txt"),
      sandbox: null,
    });
    await ctx.call(wire, "readBlock at 2^53-1", "fs/readBlock", {
      handleId: "h",
      offset: 9007199254740991,
      len: 1,
    });
    await ctx.call(wire, "readBlock negative offset", "fs/readBlock", { handleId: "h", offset: -1, len: 1 });
    await ctx.call(wire, "readFile maxBytes (ext)", "fs/readFile", {
      path: ctx.uri("a b.txt"),
      maxBytes: 2,
      sandbox: null,
    });
    const text = await (async () => {
      const id = wire.request("process/start", codexStart(ctx, "n1", "echo hi"));
      await wire.replyTo(id);
      await wire.untilClosed("n1");
      return wire.received.find((entry) => entry.message?.["method"] === "process/output")?.text ?? "";
    })();
    ctx.record("notification top-level keys (order)", Object.keys(JSON.parse(text) as object).join(","));
    ctx.record(
      "output params keys (order)",
      Object.keys((JSON.parse(text) as Message)["params"] as object).join(","),
    );
    await ctx.call(wire, "read maxBytes 0", "process/read", { processId: "n1", afterSeq: 0, maxBytes: 0 });
    await ctx.call(wire, "read afterSeq past end", "process/read", { processId: "n1", afterSeq: 10 });
  },

  async fsHandles(ctx) {
    const wire = await ctx.session();
    await ctx.call(wire, "open read", "fs/open", {
      handleId: "h1",
      path: ctx.uri("a b.txt"),
      mode: "read",
      sandbox: null,
    });
    await ctx.call(wire, "open taken id", "fs/open", {
      handleId: "h1",
      path: ctx.uri("a b.txt"),
      sandbox: null,
    });
    await ctx.call(wire, "readBlock", "fs/readBlock", { handleId: "h1", offset: 0, len: 4 });
    await ctx.call(wire, "readBlock to end", "fs/readBlock", { handleId: "h1", offset: 4, len: 100 });
    await ctx.call(wire, "readBlock past end", "fs/readBlock", { handleId: "h1", offset: 1000, len: 4 });
    await ctx.call(wire, "readBlock len 0", "fs/readBlock", { handleId: "h1", offset: 0, len: 0 });
    await ctx.call(wire, "readBlock len too big", "fs/readBlock", {
      handleId: "h1",
      offset: 0,
      len: 1_048_577,
    });
    await ctx.call(wire, "writeBlock on read handle", "fs/writeBlock", {
      handleId: "h1",
      offset: 0,
      chunk: b64("x"),
    });
    await ctx.call(wire, "close h1", "fs/close", { handleId: "h1" });
    await ctx.call(wire, "close h1 again", "fs/close", { handleId: "h1" });
    await ctx.call(wire, "readBlock closed handle", "fs/readBlock", { handleId: "h1", offset: 0, len: 4 });
    await ctx.call(wire, "open replace", "fs/open", {
      handleId: "h2",
      path: ctx.uri("written.bin"),
      mode: "replace",
      sandbox: null,
    });
    await ctx.call(wire, "writeBlock", "fs/writeBlock", { handleId: "h2", offset: 0, chunk: b64("hello ") });
    await ctx.call(wire, "writeBlock with gap", "fs/writeBlock", {
      handleId: "h2",
      offset: 10,
      chunk: b64("world"),
    });
    await ctx.call(wire, "writeBlock empty", "fs/writeBlock", { handleId: "h2", offset: 0, chunk: "" });
    await ctx.call(wire, "writeBlock bad base64", "fs/writeBlock", {
      handleId: "h2",
      offset: 0,
      chunk: "!!",
    });
    await ctx.call(wire, "readBlock on replace handle", "fs/readBlock", {
      handleId: "h2",
      offset: 0,
      len: 4,
    });
    await ctx.call(wire, "close h2", "fs/close", { handleId: "h2" });
    await ctx.call(wire, "readFile written", "fs/readFile", { path: ctx.uri("written.bin"), sandbox: null });
    await ctx.call(wire, "open missing", "fs/open", {
      handleId: "h3",
      path: ctx.uri("missing"),
      sandbox: null,
    });
    await ctx.call(wire, "open directory", "fs/open", {
      handleId: "h4",
      path: ctx.uri("sub"),
      sandbox: null,
    });
    await ctx.call(wire, "open long handle id", "fs/open", {
      handleId: "x".repeat(33),
      path: ctx.uri("a b.txt"),
      sandbox: null,
    });
    await ctx.call(wire, "open bad mode", "fs/open", {
      handleId: "h5",
      path: ctx.uri("a b.txt"),
      mode: "append",
    });
    await ctx.call(wire, "open mode omitted", "fs/open", {
      handleId: "h6",
      path: ctx.uri("a b.txt"),
      sandbox: null,
    });
    await ctx.call(wire, "close h6", "fs/close", { handleId: "h6" });
    await ctx.call(wire, "writeBlock unknown handle", "fs/writeBlock", {
      handleId: "zz",
      offset: 0,
      chunk: b64("x"),
    });
  },
};

/** Files every target's temp dir starts with. */
async function seed(dir: string): Promise<void> {
  await writeFile(join(dir, "a b.txt"), "spaced file\n");
  await mkdir(join(dir, "empty-dir"));
  await symlink(join(dir, "a b.txt"), join(dir, "link-to-file"));
  await symlink(join(dir, "nowhere"), join(dir, "dangling"));
  await mkdir(join(dir, "sub"));
  await symlink(join(dir, "sub"), join(dir, "link-to-sub"));
  await symlink(join(dir, "loop"), join(dir, "loop"));
  await writeFile(join(dir, "sub-file.txt"), "sub file\n");
  await mkdir(join(dir, "sub", "inner"));
  await writeFile(join(dir, "sub", "inner", "deep.txt"), "deep\n");
  await writeFile(join(dir, "sub", "one.txt"), "one\n");
  await new Promise<void>((resolve, reject) => {
    spawn("mkfifo", [join(dir, "fifo")]).once(
      "exit",
      (code) => code === 0 ? resolve() : reject(new Error(`mkfifo exited ${code}`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Diffing

interface Difference {
  readonly scenario: string;
  readonly label: string;
  readonly values: Partial<Record<TargetName, string>>;
}

/**
 * Where a difference is already accounted for, first match wins: (a) intended per PROTOCOL.md,
 * (c) written down in docs/protocol_notes.md, or a runtime adapter limitation. Anything else is
 * printed as UNCLASSIFIED and needs a look.
 */
const KNOWN: readonly [RegExp, string][] = [
  [/error objects carry data|error object keys/, "(a) §2.6/§10.3: error data {kind, errno?} is ours"],
  [/error reply top-level keys/, "(c) notes: member order of error replies"],
  [
    /initialize reply|initialize \(after failures\)|initialize fresh|resume detached|environment\/info|string id echoed/,
    "(a) §3.3/§10.3/§11.1: capabilities all false, extensions, prependPathDirs [], our version",
  ],
  [/probe reply arrival order/, "(a) §2.5/§10.3: requests run concurrently once ready"],
  [
    /initialized before initialize|connection after unknown notification/,
    "(a) §10.3: Close frame 1008, not a TCP drop",
  ],
  [/process\/read after closed|read maxBytes 0|read afterSeq past end/, "(a) §11.6: droppedBytes"],
  [/write bad base64|writeBlock bad base64/, "(a) §5.7/§7.13: `invalid base64 in chunk: <detail>`"],
  [/writeFile bad base64/, "(a) §7.4: prefix matches, <detail> wording is ours (§10.3)"],
  [/writeFile unpadded base64/, "(a) Base64 notation: input is accepted with or without padding"],
  [/walk$|walk maxDepth 0/, "(a) §7.9: a symlink to a file is listed as a file (and unpadded.txt exists)"],
  [/getMetadata after bad|readDirectory after edits/, ""],
  [/write without writeId/, "(a) §10.3: writeId optional"],
  [/write after closed/, "(a) §5.7: stdinClosed once the process is closed"],
  [
    /start missing cwd dir|start missing program|start cwd is a file|start program not executable|start program behind a PATH/,
    "(a) §5.2: `cwd <path>: …` / `program <argv0>: …`",
  ],
  [
    /start relative cwd|readFile relative path|getMetadata query|getMetadata other host/,
    "(a) §9.2 path errors",
  ],
  [/readFile native path/, "(a) §10.3/§10.4: native absolute paths accepted"],
  [/signal bad name/, "(a) §5.8: `unknown signal <value>`"],
  [/unknown method/, "(a) §4.4: `unknown method <method>`"],
  [/fs\/watchMissing|environmentConfig\/read|http\/request/, "(a) §10.3: not served, -32601"],
  [/parse error:/, "(a) §2.4: same prefix, our <detail> (Bun's JSON.parse gives no position)"],
  [/params array/, "(a) §2.1: array params are -32602"],
  [/replies to a jsonrpc-first client/, "(a) §2.2: jsonrpc mirrored"],
  [/env name with =/, "(a) §10.3: env names with = refused"],
  [/start argv0 empty/, "(a) §5.1: `argv[0] must not be empty`"],
  [/tty with arg0|tty arg0 output/, "(a) §5.2 arg0 is argv[0] for PTYs too; Deno PTY ignores arg0 (adapter)"],
  [/name too long|symlink loop/, "(a) §7.1 table (glibc texts; the reference is a musl build): see notes"],
  [/readDirectory/, "(a) §7.8: sorted"],
  [/walk following symlinks|walk truncated/, "(a) §7.9: a symlink to a file is listed as a file"],
  [/walk maxDirectories 0|walk maxEntries 0/, "(c) notes: zero walk limits"],
  [/open replace on a directory/, "(a) §7.13: `path … is not a file`"],
  [/readFile maxBytes/, "(a) §11.10: maxBytes extension"],
  [/readFile directory/, "(a) §10.4: -32600 `… is not a file`"],
  [
    /initialize without clientName|initialize params null|start missing argv|start tty not boolean|start params null|negative afterSeq|processId not a string|path not a string|missing path member|without recursive member|walk missing options|walk negative maxDepth|negative offset|pipeStdin null|open bad mode|params missing/,
    "(a) §5.1/§10.3: schema messages are ours",
  ],
];

/** The note for a difference: only createdAtMs differs, or a KNOWN row. */
function classify(label: string, values: Partial<Record<TargetName, string>>): string {
  const birth = (text: string | undefined): string | undefined =>
    text?.replaceAll('"createdAtMs":"<ms>"', '"createdAtMs":0');
  if (birth(values.bun) === values.codex && birth(values.deno) === values.codex) {
    return "(a) §7.6: birth time; the reference (musl build) always reports createdAtMs 0";
  }
  const race = (text: string | undefined): string | undefined =>
    text?.replaceAll('"outputAfterExitedBySeq":true', '"outputAfterExitedBySeq":false');
  if (race(values.codex) === race(values.bun) && race(values.codex) === race(values.deno)) {
    return "(a) §5.4: whether output follows exited is a race, both orders are allowed";
  }
  for (const [pattern, note] of KNOWN) {
    if (pattern.test(label)) return note === "" ? "cascade of an earlier (a) difference" : note;
  }
  return "UNCLASSIFIED";
}

function render(value: Json | undefined): string {
  return value === undefined ? "<missing>" : JSON.stringify(value);
}

async function runScenario(
  name: string,
  scenario: Scenario,
  target: TargetName,
  base: string,
): Promise<Step[]> {
  // The server's HOME sits beside the work dir, so what a runtime caches there stays out of listings.
  const raw = await mkdtemp(join(base, `${target}-${name}-`));
  const dir = join(await realpath(raw), "work");
  const home = join(await realpath(raw), "home");
  await mkdir(join(home, ".codex"), { recursive: true });
  await mkdir(dir);
  await seed(dir);
  await using server = await startTarget(target, home, serverEnv(home), REFERENCE_BIN);
  const ctx = new Ctx({
    dir,
    url: server.url,
    norm: { dirs: [dir, join(raw, "work")], home, errorData: new Set() },
  });
  try {
    await scenario(ctx);
  } catch (error) {
    ctx.record("<scenario failed>", String(error));
  } finally {
    for (const wire of ctx.wires) wire.close();
  }
  ctx.record("error objects carry data", [...ctx.norm.errorData].sort().join(","));
  return ctx.steps;
}

async function main(): Promise<number> {
  if (!existsSync(REFERENCE_BIN)) {
    console.error(`reference not found at ${REFERENCE_BIN}; install @openai/codex@0.169.0 (see the header)`);
    return 2;
  }
  const base = await mkdtemp(join(tmpdir(), "reference-diff-"));
  const differences: Difference[] = [];
  try {
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      if (ONLY !== undefined && !name.includes(ONLY)) continue;
      const results = await Promise.all(TARGETS.map((target) => runScenario(name, scenario, target, base)));
      const byTarget = new Map(TARGETS.map((target, index) => [target, results[index] ?? []]));
      const labels: string[] = [];
      for (const steps of results) {
        for (const step of steps) if (!labels.includes(step.label)) labels.push(step.label);
      }
      let same = 0;
      for (const label of labels) {
        const values: Partial<Record<TargetName, string>> = {};
        for (const target of TARGETS) {
          values[target] = render(byTarget.get(target)?.find((s) => s.label === label)?.value);
        }
        if (values.codex === values.bun && values.codex === values.deno) {
          same++;
          if (VERBOSE) console.log(`  = ${name} / ${label}: ${values.codex}`);
        } else differences.push({ scenario: name, label, values });
      }
      console.log(`${name}: ${labels.length} steps, ${same} identical, ${labels.length - same} different`);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
  console.log(`\n${differences.length} differences\n`);
  for (const difference of differences) {
    console.log(
      `● ${difference.scenario} / ${difference.label}  [${classify(difference.label, difference.values)}]`,
    );
    const { codex, bun, deno } = difference.values;
    console.log(`    codex: ${codex}`);
    if (bun === deno) console.log(`    ours:  ${bun}`);
    else {
      console.log(`    bun:   ${bun}`);
      console.log(`    deno:  ${deno}`);
    }
  }
  return 0;
}

process.exitCode = await main();
