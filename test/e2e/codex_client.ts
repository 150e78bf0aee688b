/**
 * End-to-end: the real Codex 0.169 CLI, unchanged, runs scripted conversations whose commands and
 * file edits go through an exec-server (`CODEX_EXEC_SERVER_URL`). The model is a loopback mock of
 * the OpenAI Responses API (streaming SSE, `POST /v1/responses`) that asks, turn by turn, for
 *
 * - `edit`: `exec_command` running `echo hello > out.txt; cat out.txt; echo executor=$E2E_EXECUTOR`
 *   (the variable is set only in the server's environment, so its value proves where the command
 *   ran), then `apply_patch` adding `sub/dir/new.txt` (a missing directory: fs/writeFile → -32004 →
 *   fs/createDirectory → retry) and updating `out.txt`, then a final message;
 * - `interactive`: a `tty: true` command that reads a line, `write_stdin` answering it, a
 *   `sleep 30` left running when the turn ends (Codex terminates it), then a final message.
 *
 * Targets: this server under Bun and under Deno, and the Codex reference exec-server as a control
 * (a failure there is a harness problem, not a server problem). A script, not part of `npm test`.
 *
 *     mkdir -p /tmp/codexref && cd /tmp/codexref && npm i @openai/codex@0.169.0
 *     bun test/e2e/codex_client.ts [--runtime bun|deno] [--no-reference] [--only edit|interactive]
 *                                  [--sandbox MODE] [--codex PATH] [--trace] [--keep] [--verbose]
 *
 * `--runtime` limits our server to one runtime (the reference control still runs unless
 * `--no-reference`); `--trace` puts `ws_proxy.ts` between Codex and the server and writes every
 * frame to `frames.jsonl` in the target's temp dir; `--keep` keeps the temp dirs. `--sandbox`
 * sets Codex's `sandbox_mode` (default `danger-full-access`); with `workspace-write` Codex sends its
 * permission profile in every `process/start` and file write, and the server enforces it.
 *
 * Everything Codex runs is harmless and stays inside a temp dir this script creates; every
 * process it starts is its own process group and is killed at the end.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, rmdirSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serverCommand } from "../helpers/server.ts";
import { startWsProxy } from "./ws_proxy.ts";
import type { Frame, WsProxy } from "./ws_proxy.ts";

type TargetName = "reference" | "bun" | "deno";
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  const index = argv.indexOf(name);
  return index === -1 ? undefined : argv[index + 1];
}
const CODEX_BIN = flag("--codex") ??
  "/tmp/codexref/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex";
const RUNTIME = flag("--runtime");
const TRACE = argv.includes("--trace");
const KEEP = argv.includes("--keep");
const VERBOSE = argv.includes("--verbose");
const ONLY = flag("--only");
const SANDBOX_MODE = flag("--sandbox") ?? "danger-full-access";
const CODEX_TIMEOUT_MS = 120_000;

const MODEL = "gpt-5.5"; // a slug Codex 0.169 knows: its metadata offers the apply_patch tool

/** One model turn: the tool call to ask for, given the tool outputs Codex has sent back so far. */
type Step = (outputs: ReadonlyMap<string, string>) => JsonObject;

function execCommand(callId: string, args: Record<string, Json>): JsonObject {
  return {
    type: "function_call",
    id: `fc_${callId}`,
    status: "completed",
    call_id: callId,
    name: "exec_command",
    arguments: JSON.stringify(args),
  };
}

/** The unified-exec session id Codex reported for a command still running, or 0. */
function sessionIdOf(output: string | undefined): number {
  const match = /session ID (\d+)/.exec(output ?? "");
  return match === null ? 0 : Number(match[1]);
}

/** `edit`: a command, then an apply_patch into a missing directory. */
const EDIT_COMMAND = 'echo hello > out.txt; cat out.txt; echo "executor=${E2E_EXECUTOR:-none}"';
const EDIT_PATCH = [
  "*** Begin Patch",
  "*** Add File: sub/dir/new.txt",
  "+created by apply_patch",
  "*** Update File: out.txt",
  "@@",
  " hello",
  "+patched",
  "*** End Patch",
  "",
].join("\n");

/** `interactive`: a PTY command that reads a line, and a command left running at the turn's end. */
const TTY_COMMAND = `printf 'name? '; read -r line; echo "got:$line"; ` +
  `if [ -t 0 ]; then echo tty=yes; else echo tty=no; fi`;
/** A marker in argv[0] of the process left running, so the harness can look for it afterwards. */
function leftRunningCommand(marker: string): string {
  return `exec -a ${marker} sleep 30`;
}

interface Scenario {
  readonly name: "edit" | "interactive";
  readonly prompt: string;
  readonly steps: (marker: string) => Step[];
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: "edit",
    prompt: "Create out.txt with the word hello, then add sub/dir/new.txt.",
    steps: () => [
      () => execCommand("call_exec", { cmd: EDIT_COMMAND, yield_time_ms: 10_000 }),
      () => ({
        type: "custom_tool_call",
        id: "ctc_patch",
        status: "completed",
        call_id: "call_patch",
        name: "apply_patch",
        input: EDIT_PATCH,
      }),
    ],
  },
  {
    name: "interactive",
    prompt: "Answer a prompt in a terminal, then start a long sleep.",
    steps: (marker) => [
      () => execCommand("call_tty", { cmd: TTY_COMMAND, tty: true, yield_time_ms: 1_000 }),
      (outputs) => ({
        type: "function_call",
        id: "fc_call_stdin",
        status: "completed",
        call_id: "call_stdin",
        name: "write_stdin",
        arguments: JSON.stringify({
          session_id: sessionIdOf(outputs.get("call_tty")),
          chars: "abc\n",
          yield_time_ms: 3_000,
        }),
      }),
      () => execCommand("call_sleep", { cmd: leftRunningCommand(marker), yield_time_ms: 500 }),
    ],
  },
];

const FINAL_TEXT = "All done.";

// ---------------------------------------------------------------------------------------------
// Processes

interface Child extends AsyncDisposable {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** Spawns `command` as its own process group, collecting its output. */
function startChild(
  command: readonly string[],
  options: { cwd: string; env: Record<string, string> },
): Child {
  const [program, ...args] = command;
  const child = spawn(program ?? "", args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr?.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code, signal) => resolve(signal === null ? code : null));
    child.once("error", () => resolve(null));
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async [Symbol.asyncDispose]() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const pid = child.pid;
      try {
        process.kill(-pid, "SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, "SIGKILL");
        } catch { /* already gone */ }
      }, 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves with the first stdout line of `child` (a server's URL). */
async function firstLine(child: Child, what: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const out = child.stdout();
    const newline = out.indexOf("\n");
    if (newline !== -1) return out.slice(0, newline).trim();
    if (child.child.exitCode !== null || child.child.signalCode !== null) {
      throw new Error(`${what} exited before printing its URL: ${child.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`${what} printed no URL: ${child.stderr()}`);
    await Bun.sleep(20);
  }
}

/** Starts the exec-server of `target`; its environment carries `E2E_EXECUTOR=<target>`. */
async function startExecServer(target: TargetName, root: string): Promise<Child & { url: string }> {
  const command = target === "reference"
    ? [CODEX_BIN, "exec-server", "--listen", "ws://127.0.0.1:0"]
    // Not --quiet: its log is part of the evidence. A short TTL logs the session's expiry soon
    // after Codex disconnects.
    : [...serverCommand(target), "--listen", "ws://127.0.0.1:0", "--session-ttl", "1"];
  const child = startChild(command, {
    cwd: root,
    env: {
      PATH: "/usr/local/bin:/usr/bin:/bin",
      HOME: join(root, "home"),
      TMPDIR: join(root, "tmp"),
      CODEX_HOME: join(root, "server-codex-home"),
      SHELL: "/bin/bash",
      LANG: "C.UTF-8",
      E2E_EXECUTOR: target,
    },
  });
  try {
    return Object.assign(child, { url: await firstLine(child, `${target} exec-server`) });
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// The mock model: OpenAI Responses API, streaming

interface MockModel extends AsyncDisposable {
  readonly baseUrl: string;
  /** Every request, in order: method, path and parsed JSON body (null when not JSON). */
  readonly requests: { method: string; path: string; body: JsonObject | null }[];
  /** Tool outputs Codex sent back to the model, by call id. */
  readonly toolOutputs: Map<string, string>;
  /** What the mock answered, one entry per `POST /responses`. */
  readonly script: string[];
}

function sse(event: JsonObject): string {
  return `event: ${String(event["type"])}\ndata: ${JSON.stringify(event)}\n\n`;
}

function responseStream(id: string, items: JsonObject[]): string {
  let body = sse({ type: "response.created", response: { id } });
  for (const item of items) body += sse({ type: "response.output_item.done", item });
  body += sse({
    type: "response.completed",
    response: {
      id,
      usage: {
        input_tokens: 10,
        input_tokens_details: null,
        output_tokens: 5,
        output_tokens_details: null,
        total_tokens: 15,
      },
    },
  });
  return body;
}

/** Text of a tool output item: a string, or the text parts of a content list. */
function outputText(output: Json | undefined): string {
  if (typeof output === "string") return output;
  if (Array.isArray(output)) {
    return output.map((part) =>
      part !== null && typeof part === "object" && !Array.isArray(part) && typeof part["text"] === "string"
        ? part["text"]
        : ""
    ).join("");
  }
  if (output !== null && typeof output === "object" && !Array.isArray(output)) {
    return outputText(output["content"] ?? output["body"]);
  }
  return "";
}

function startMockModel(steps: readonly Step[]): MockModel {
  // The call id each step uses, so a turn knows which steps Codex has answered.
  const stepIds = steps.map((step) => String(step(new Map())["call_id"]));
  const callIdOf = (index: number): string => stepIds[index] ?? "";
  const requests: MockModel["requests"] = [];
  const toolOutputs = new Map<string, string>();
  const script: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const text = await request.text();
      let body: JsonObject | null = null;
      try {
        const parsed = JSON.parse(text) as Json;
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed;
      } catch { /* not JSON */ }
      requests.push({ method: request.method, path, body });
      if (request.method !== "POST" || !path.endsWith("/responses") || body === null) {
        return new Response("not found", { status: 404 });
      }
      const input = Array.isArray(body["input"]) ? body["input"] : [];
      const calls = new Set<string>();
      for (const item of input) {
        if (item === null || typeof item !== "object" || Array.isArray(item)) continue;
        const type = item["type"];
        if (type === "function_call_output" || type === "custom_tool_call_output") {
          const callId = String(item["call_id"]);
          calls.add(callId);
          toolOutputs.set(callId, outputText(item["output"]));
        }
      }
      const id = `resp_${requests.length}`;
      const next = steps.findIndex((_, index) => !calls.has(callIdOf(index)));
      let items: JsonObject[];
      if (next !== -1) {
        const step = steps[next];
        const item = step === undefined ? {} : step(toolOutputs);
        script.push(String(item["name"]));
        items = [item];
      } else {
        script.push("message");
        items = [{
          type: "message",
          id: "msg_final",
          role: "assistant",
          status: "completed",
          content: [{ type: "output_text", text: FINAL_TEXT, annotations: [] }],
        }];
      }
      return new Response(responseStream(id, items), {
        headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
      });
    },
  });
  return {
    baseUrl: `http://127.0.0.1:${server.port}/v1`,
    requests,
    toolOutputs,
    script,
    async [Symbol.asyncDispose]() {
      await server.stop(true);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Codex

/** The Codex configuration every run uses: the mock provider, no network, no approvals. */
function codexConfig(baseUrl: string): string {
  return [
    `model = "${MODEL}"`,
    `model_provider = "mock"`,
    `approval_policy = "never"`,
    `sandbox_mode = "${SANDBOX_MODE}"`,
    `check_for_update_on_startup = false`,
    ``,
    `[model_providers.mock]`,
    `name = "mock"`,
    `base_url = "${baseUrl}"`,
    `wire_api = "responses"`,
    `env_key = "MOCK_API_KEY"`,
    `request_max_retries = 0`,
    `stream_max_retries = 0`,
    ``,
    `[analytics]`,
    `enabled = false`,
    ``,
    // Only the project is writable: a sandbox may then create mount points for the protected
    // subpaths of writable roots (.git, .agents, .codex) inside the temp dir only. The reference's
    // bubblewrap helper creates them as real empty directories and may leave them behind.
    `[sandbox_workspace_write]`,
    `exclude_slash_tmp = true`,
    `exclude_tmpdir_env_var = true`,
    ``,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// One target

interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

interface Outcome {
  readonly target: TargetName;
  readonly scenario: Scenario["name"];
  readonly checks: Check[];
  readonly root: string;
  readonly notes: string[];
}

function parseEvents(stdout: string): JsonObject[] {
  const events: JsonObject[] = [];
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const parsed = JSON.parse(line) as Json;
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) events.push(parsed);
    } catch { /* not an event */ }
  }
  return events;
}

function completedItems(events: JsonObject[], type: string): JsonObject[] {
  const items: JsonObject[] = [];
  for (const event of events) {
    const item = event["item"];
    if (event["type"] !== "item.completed" || item === null || typeof item !== "object") continue;
    if (Array.isArray(item) || item["type"] !== type) continue;
    items.push(item);
  }
  return items;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}

function clip(text: string, max = 400): string {
  const flat = JSON.stringify(text);
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function methodsOf(frames: readonly Frame[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const frame of frames) {
    if (frame.dir !== ">") continue;
    try {
      const message = JSON.parse(frame.text) as { method?: unknown };
      if (typeof message.method === "string") {
        counts.set(message.method, (counts.get(message.method) ?? 0) + 1);
      }
    } catch { /* not JSON */ }
  }
  return counts;
}

/** Processes whose command line contains `marker` (the command Codex left running). */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readText(`/proc/${entry}/cmdline`);
    if (cmdline !== null && cmdline.includes(marker)) found.push(Number(entry));
  }
  return found;
}

type CheckFn = (name: string, ok: boolean, detail: string) => void;

interface RunFacts {
  readonly work: string;
  readonly events: JsonObject[];
  readonly model: MockModel;
  readonly marker: string;
}

/** The checks specific to `edit`. */
async function checkEdit(target: TargetName, facts: RunFacts, check: CheckFn): Promise<void> {
  const { events, model, work } = facts;
  const command = completedItems(events, "command_execution").find((item) =>
    String(item["command"]).includes("out.txt")
  );
  const aggregated = command === undefined ? "" : String(command["aggregated_output"] ?? "");
  check(
    "command output in Codex's JSON events",
    command !== undefined && aggregated.includes("hello") && command["exit_code"] === 0,
    command === undefined
      ? `no completed command_execution among ${events.length} events`
      : `exit_code ${JSON.stringify(command["exit_code"])}, aggregated_output ${clip(aggregated)}`,
  );
  check(
    "command ran on the exec-server",
    aggregated.includes(`executor=${target}`),
    `expected executor=${target} (E2E_EXECUTOR is set only in the server's environment)`,
  );
  const execOutput = model.toolOutputs.get("call_exec");
  check(
    "command output sent back to the model",
    execOutput !== undefined && execOutput.includes("hello"),
    execOutput === undefined ? "no output for call_exec" : clip(execOutput),
  );
  const outTxt = await readText(join(work, "out.txt"));
  check(
    "out.txt has the command's and the patch's lines",
    outTxt === "hello\npatched\n",
    clip(outTxt ?? "(missing)"),
  );
  const newTxt = await readText(join(work, "sub", "dir", "new.txt"));
  check(
    "apply_patch created sub/dir/new.txt",
    newTxt === "created by apply_patch\n",
    clip(newTxt ?? "(missing)"),
  );
  const changes = completedItems(events, "file_change");
  const patchOutput = model.toolOutputs.get("call_patch");
  check(
    "apply_patch reported success",
    changes.some((item) => item["status"] === "completed") && (patchOutput ?? "").includes("Success"),
    `file_change items: ${clip(JSON.stringify(changes))}; tool output: ${clip(patchOutput ?? "(none)")}`,
  );
}

/** The checks specific to `interactive`. */
async function checkInteractive(facts: RunFacts, check: CheckFn): Promise<void> {
  const { model, marker } = facts;
  const first = model.toolOutputs.get("call_tty");
  check(
    "PTY command still running after its first yield",
    sessionIdOf(first) !== 0 && (first ?? "").includes("name?"),
    clip(first ?? "(none)"),
  );
  const answer = model.toolOutputs.get("call_stdin");
  check(
    "write_stdin reached the PTY and the command finished",
    (answer ?? "").includes("got:abc") && (answer ?? "").includes("tty=yes") &&
      (answer ?? "").includes("exited with code 0"),
    clip(answer ?? "(none)"),
  );
  const sleeping = model.toolOutputs.get("call_sleep");
  check(
    "long command reported as running",
    sessionIdOf(sleeping) !== 0,
    clip(sleeping ?? "(none)"),
  );
  let left = await processesWith(marker);
  const deadline = Date.now() + 5_000;
  while (left.length > 0 && Date.now() < deadline) {
    await Bun.sleep(100);
    left = await processesWith(marker);
  }
  check(
    "command left running was killed",
    left.length === 0,
    left.length === 0 ? "gone" : `still running: pids ${left.join(", ")}`,
  );
}

async function runScenario(target: TargetName, scenario: Scenario): Promise<Outcome> {
  const root = await realpath(await mkdtemp(join(tmpdir(), `codex-e2e-${target}-${scenario.name}-`)));
  const work = join(root, "work");
  const codexHome = join(root, "codex-home");
  for (
    const dir of [work, codexHome, join(root, "home"), join(root, "tmp"), join(root, "server-codex-home")]
  ) {
    await mkdir(dir, { recursive: true });
  }
  const checks: Check[] = [];
  const notes: string[] = [];
  const check: CheckFn = (name, ok, detail) => {
    checks.push({ name, ok, detail });
  };
  const marker = `codex-e2e-sleep-${randomUUID().slice(0, 8)}`;

  await using model = startMockModel(scenario.steps(marker));
  await using server = await startExecServer(target, root);
  let proxy: WsProxy | undefined;
  const framesPath = join(root, "frames.jsonl");
  if (TRACE) proxy = startWsProxy(server.url);
  try {
    writeFileSync(join(codexHome, "config.toml"), codexConfig(model.baseUrl));
    const started = Date.now();
    await using codex = startChild([
      CODEX_BIN,
      "exec",
      "--json",
      "--skip-git-repo-check",
      "-C",
      work,
      scenario.prompt,
    ], {
      cwd: work,
      env: {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: join(root, "home"),
        TMPDIR: join(root, "tmp"),
        CODEX_HOME: codexHome,
        LANG: "C.UTF-8",
        MOCK_API_KEY: "dummy-key",
        CODEX_EXEC_SERVER_URL: proxy?.url ?? server.url,
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      codex.exited,
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), CODEX_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    const elapsed = Date.now() - started;
    if (code === "timeout") await codex[Symbol.asyncDispose]();
    writeFileSync(join(root, "codex.stdout.jsonl"), codex.stdout());
    writeFileSync(join(root, "codex.stderr.txt"), codex.stderr());
    notes.push(`codex ran ${elapsed} ms; model script: ${model.script.join(" → ") || "(no requests)"}`);

    check("codex exits 0", code === 0, code === "timeout" ? "timed out" : `exit ${String(code)}`);
    const events = parseEvents(codex.stdout());
    const facts: RunFacts = { work, events, model, marker };
    if (scenario.name === "edit") await checkEdit(target, facts, check);
    else await checkInteractive(facts, check);
    const messages = completedItems(events, "agent_message");
    check(
      "final agent message",
      messages.some((item) => item["text"] === FINAL_TEXT),
      clip(JSON.stringify(messages.map((item) => item["text"]))),
    );
    const errors = completedItems(events, "error").map((item) => String(item["message"]));
    if (errors.length > 0) notes.push(`codex error items: ${clip(JSON.stringify(errors), 600)}`);
    const failed = events.filter((event) => event["type"] === "turn.failed" || event["type"] === "error");
    if (failed.length > 0) notes.push(`codex failures: ${clip(JSON.stringify(failed), 600)}`);

    // The server's side of the story.
    if (target === "reference") {
      if (server.stderr() !== "") notes.push(`reference stderr: ${clip(server.stderr(), 300)}`);
    } else {
      const deadline = Date.now() + 5_000;
      while (!server.stderr().includes("session expired") && Date.now() < deadline) await Bun.sleep(50);
      const log = server.stderr();
      const expired = log.split("\n").filter((line) => line.includes("session expired"));
      check(
        "server log shows the session",
        expired.length === 1 && !log.includes('"level":"error"'),
        `${expired.length} session(s) logged; log ${clip(log, 600)}`,
      );
    }
    if (proxy !== undefined) {
      writeFileSync(framesPath, proxy.frames.map((frame) => JSON.stringify(frame)).join("\n") + "\n");
      const counts = methodsOf(proxy.frames);
      const methods = [...counts].map(([name, count]) => `${name}×${count}`).join(", ");
      notes.push(`frames: ${proxy.frames.length} in ${framesPath}; methods: ${methods}`);
      const expected = scenario.name === "edit"
        ? ["process/start", "fs/writeFile", "fs/createDirectory"]
        : ["process/start", "process/write", "process/terminate"];
      check(
        `trace shows ${expected.join(", ")}`,
        expected.every((method) => (counts.get(method) ?? 0) >= 1),
        methods,
      );
    }
    if (VERBOSE || checks.some((entry) => !entry.ok)) {
      notes.push(`codex stderr: ${clip(codex.stderr(), 1500)}`);
      notes.push(`codex events: ${clip(codex.stdout(), 3000)}`);
    }
  } finally {
    if (proxy !== undefined) await proxy[Symbol.asyncDispose]();
  }
  return { target, scenario: scenario.name, checks, root, notes };
}

// ---------------------------------------------------------------------------------------------
// Main

/**
 * The reference exec-server creates an empty `/tmp/codex-daemon-<uid>` (mode 0700) whatever TMPDIR
 * says. Removes it after a reference run if it did not exist before and is still empty (rmdir
 * refuses otherwise, so a directory another Codex put a socket in is left alone).
 */
function tidyDaemonDir(existedBefore: boolean): void {
  const dir = `/tmp/codex-daemon-${process.getuid?.() ?? 0}`;
  if (existedBefore || !existsSync(dir)) return;
  try {
    rmdirSync(dir);
  } catch { /* not empty or gone: not ours to remove */ }
}

function label(target: TargetName): string {
  return target === "reference" ? "reference exec-server (control)" : `exec-server on ${target}`;
}

async function main(): Promise<number> {
  if (!existsSync(CODEX_BIN)) {
    process.stderr.write(`Codex not found at ${CODEX_BIN}; install @openai/codex@0.169.0 (see the header)\n`);
    return 2;
  }
  if (RUNTIME !== undefined && RUNTIME !== "bun" && RUNTIME !== "deno") {
    process.stderr.write("--runtime must be bun or deno\n");
    return 2;
  }
  const targets: TargetName[] = [];
  if (!argv.includes("--no-reference")) targets.push("reference");
  if (RUNTIME === undefined || RUNTIME === "bun") targets.push("bun");
  if (RUNTIME === undefined || RUNTIME === "deno") targets.push("deno");
  const scenarios = SCENARIOS.filter((scenario) => ONLY === undefined || scenario.name === ONLY);

  const outcomes: Outcome[] = [];
  for (const target of targets) {
    for (const scenario of scenarios) {
      process.stdout.write(`\n== ${target} / ${scenario.name}\n`);
      let outcome: Outcome;
      const daemonDirExisted = existsSync(`/tmp/codex-daemon-${process.getuid?.() ?? 0}`);
      try {
        outcome = await runScenario(target, scenario);
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        outcome = {
          target,
          scenario: scenario.name,
          checks: [{ name: "harness", ok: false, detail }],
          root: "",
          notes: [],
        };
      }
      if (target === "reference") tidyDaemonDir(daemonDirExisted);
      outcomes.push(outcome);
      for (const entry of outcome.checks) {
        process.stdout.write(`  ${entry.ok ? "ok  " : "FAIL"} ${entry.name}: ${entry.detail}\n`);
      }
      for (const note of outcome.notes) process.stdout.write(`  note ${note}\n`);
      if (outcome.root !== "") {
        if (KEEP || TRACE) process.stdout.write(`  kept ${outcome.root}\n`);
        else await rm(outcome.root, { recursive: true, force: true });
      }
    }
  }

  process.stdout.write("\n== summary\n");
  for (const target of targets) {
    const mine = outcomes.filter((outcome) => outcome.target === target);
    const failed = mine.flatMap((outcome) =>
      outcome.checks.filter((entry) => !entry.ok).map((entry) => `${outcome.scenario}: ${entry.name}`)
    );
    const count = mine.reduce((sum, outcome) => sum + outcome.checks.length, 0);
    process.stdout.write(
      `  ${failed.length === 0 ? "PASS" : "FAIL"} ${label(target)}` +
        (failed.length === 0 ? ` (${mine.length} scenarios, ${count} checks)\n` : `: ${failed.join("; ")}\n`),
    );
  }
  return outcomes.every((outcome) => outcome.checks.every((entry) => entry.ok)) ? 0 : 1;
}

process.exit(await main());
