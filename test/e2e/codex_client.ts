/**
 * End-to-end: the real Codex 0.169 CLI, unchanged, runs scripted conversations whose commands and
 * file edits go through an exec-server (`CODEX_EXEC_SERVER_URL`). The model is a loopback mock of
 * the OpenAI Responses API (streaming SSE, `POST /v1/responses`) that asks, turn by turn, for the
 * tool calls of a scenario (`codex_scenarios.ts`):
 *
 * - `edit`: `exec_command`, then `apply_patch` adding a file in a missing directory and updating one;
 * - `interactive`: a `tty: true` command answered through `write_stdin`, and a command left running
 *   when the turn ends (Codex terminates it);
 * - `output`: 590 kB of output (many chunks, Codex's truncation), UTF-8 and invalid bytes, a
 *   `workdir` subdirectory, the environment and stdin a command gets;
 * - `failures`: non-zero exits, deaths by signal (pipe and PTY), a missing program, a missing or
 *   non-directory `workdir` (pipe and PTY);
 * - `sessions`: three commands in one model response (concurrent), an empty `write_stdin` polling a
 *   running pipe command, `write_stdin` to a pipe command and to an unknown session;
 * - `background`: commands whose descendants outlive them, holding the output open or not, one past
 *   the end of the turn;
 * - `interrupt`: SIGINT to `codex exec` while a pipe and a PTY command run (the interrupted turn);
 * - `reconnect`: the WebSocket drops (both sides, no Close frame) and connections are refused for
 *   1.5 s while commands run and one ends; Codex resumes the session and reads what it missed;
 * - `patch`: `apply_patch` deleting and moving files, failing (context mismatch, missing file),
 *   adding a file outside the workspace directly and through a symbolic link, CRLF, overwrites;
 *   `view_image` of a small and a 3 MB image, a missing file, text, a directory;
 * - `discovery`: `AGENTS.md` and a skill (and one in a hidden directory) read at startup;
 * - `sandbox`: commands (pipe and PTY) and a patch writing outside the workspace or into `.git`,
 *   reaching the network over loopback, reading outside; refused under
 *   `--sandbox workspace-write`, done under `danger-full-access`.
 *
 * Targets: this server under Bun and under Deno, and the Codex reference exec-server as a control
 * (a failure there is a harness problem, not a server problem). Besides each scenario's checks,
 * every tool output the model got from our server is compared with the one it got from the
 * reference in the same run (chunk ids, wall times, session ids, pids, the temp dir and the mock's
 * port normalised; outputs that depend on timing are left out, stdout/stderr interleaving is
 * compared as sorted lines); the departures PROTOCOL.md §10.3 prescribes are reported as notes,
 * not failures. A script, not part of `npm test`; about two minutes per sandbox mode.
 *
 *     mkdir -p /tmp/codexref && cd /tmp/codexref && npm i @openai/codex@0.169.0
 *     bun test/e2e/codex_client.ts [--runtime bun|deno] [--no-reference] [--only NAME[,NAME…]]
 *                                  [--sandbox MODE] [--codex PATH] [--trace] [--keep] [--verbose]
 *
 * `--runtime` limits our server to one runtime (the reference control still runs unless
 * `--no-reference`, which also skips the comparison); `--trace` puts `ws_proxy.ts` between Codex
 * and the server and writes every frame to `frames.jsonl` in the target's temp dir; `--keep` keeps
 * the temp dirs (each also holds Codex's events, the model requests and the normalised tool
 * outputs). `--sandbox` sets Codex's `sandbox_mode` (default `danger-full-access`); with
 * `workspace-write` Codex sends its permission profile in every `process/start` and file write, and
 * the server enforces it. Run both modes for full coverage.
 *
 * Everything Codex runs is harmless and stays inside a temp dir this script creates; every
 * process it starts is its own process group and is killed at the end.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, rmdirSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, realpath, rm } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serverCommand } from "../helpers/server.ts";
import { completedItems, readText, SCENARIOS } from "./codex_scenarios.ts";
import type { CheckFn, Json, JsonObject, RunFacts, Scenario, Step } from "./codex_scenarios.ts";
import { startWsProxy } from "./ws_proxy.ts";
import type { Frame, WsProxy } from "./ws_proxy.ts";

type TargetName = "reference" | "bun" | "deno";

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
async function startExecServer(
  target: TargetName,
  root: string,
  sessionTtlSeconds: number,
): Promise<Child & { url: string }> {
  const command = target === "reference"
    ? [CODEX_BIN, "exec-server", "--listen", "ws://127.0.0.1:0"]
    // Not --quiet: its log is part of the evidence. A short TTL logs the session's expiry soon
    // after Codex disconnects.
    : [...serverCommand(target), "--listen", "ws://127.0.0.1:0", "--session-ttl", String(sessionTtlSeconds)];
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
  readonly port: number;
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

/** Text of a tool output item: a string, or the parts of a content list (an image as its kind and size). */
function outputText(output: Json | undefined): string {
  if (typeof output === "string") return output;
  if (Array.isArray(output)) {
    return output.map((part) => {
      if (part === null || typeof part !== "object" || Array.isArray(part)) return "";
      if (typeof part["text"] === "string") return part["text"];
      const url = part["image_url"];
      if (typeof url === "string") return `[image ${url.slice(0, url.indexOf(",") + 1)} ${url.length} chars]`;
      return `[${String(part["type"])}]`;
    }).join("");
  }
  if (output !== null && typeof output === "object" && !Array.isArray(output)) {
    return outputText(output["content"] ?? output["body"]);
  }
  return "";
}

/** The items of one step, a single call or several in one response. */
function itemsOf(step: Step, outputs: ReadonlyMap<string, string>): JsonObject[] {
  const items = step(outputs);
  return Array.isArray(items) ? items : [items];
}

function startMockModel(steps: readonly Step[]): MockModel {
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
      // The call ids each step uses, so a turn knows which steps Codex has answered.
      const stepIds = steps.map((step) => itemsOf(step, new Map()).map((item) => String(item["call_id"])));
      const next = stepIds.findIndex((ids) => !ids.every((callId) => calls.has(callId)));
      let items: JsonObject[];
      const step = steps[next];
      if (step !== undefined) {
        items = itemsOf(step, toolOutputs);
        script.push(items.map((item) => String(item["name"])).join("+"));
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
    port: server.port ?? 0,
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

/**
 * A tool output with what differs between runs and executors replaced: chunk ids, wall times,
 * session ids, the temp dir, the mock model's port.
 */
function normalise(text: string, root: string, port: number): string {
  return text
    .replaceAll(root, "ROOT")
    .replaceAll(String(port), "PORT")
    .replace(/Chunk ID: \w+/g, "Chunk ID: X")
    .replace(/Wall time: [\d.]+ seconds/g, "Wall time: X seconds")
    .replace(/session ID \d+/g, "session ID N")
    // bash's report of a child's death names its pid.
    .replace(/ +\d+ (Segmentation fault|Killed|Terminated|Aborted)/g, " PID $1");
}

/** `text` with the lines after its `Output:` line sorted. */
function sortedOutput(text: string): string {
  const marker = "\nOutput:\n";
  const at = text.indexOf(marker);
  if (at === -1) return text;
  return text.slice(0, at + marker.length) + text.slice(at + marker.length).split("\n").sort().join("\n");
}

/** Normalised tool outputs of each reference run, by scenario, to compare our servers' with. */
const referenceOutputs = new Map<string, Map<string, string>>();

async function runScenario(target: TargetName, scenario: Scenario): Promise<Outcome> {
  const root = await realpath(
    await mkdtemp(join(tmpdir(), `codex-e2e-${scenario.name}-${target.slice(0, 3)}-`)),
  );
  const work = join(root, "work");
  const codexHome = join(root, "codex-home");
  for (
    const dir of [work, codexHome, join(root, "home"), join(root, "tmp"), join(root, "server-codex-home")]
  ) {
    await mkdir(dir, { recursive: true });
  }
  await scenario.setup?.(work, root);
  const checks: Check[] = [];
  const notes: string[] = [];
  const check: CheckFn = (name, ok, detail) => {
    checks.push({ name, ok, detail });
  };
  const marker = `codex-e2e-sleep-${randomUUID().slice(0, 8)}`;

  // The model's port is known only once it listens; the steps read it when first called.
  let modelPort = 0;
  const steps = (): Step[] => scenario.steps(marker, modelPort);
  const lazySteps: Step[] = [];
  await using model = startMockModel(lazySteps);
  modelPort = model.port;
  lazySteps.push(...steps());
  // Long enough to outlast a dropped connection's outage, where a scenario makes one.
  const sessionTtlSeconds = scenario.dropsConnection === true ? 5 : 1;
  await using server = await startExecServer(target, root, sessionTtlSeconds);
  let proxy: WsProxy | undefined;
  const framesPath = join(root, "frames.jsonl");
  if (TRACE || scenario.dropsConnection === true) proxy = startWsProxy(server.url);
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
    const during = scenario.during?.({
      marker,
      codexPid: codex.child.pid ?? 0,
      processesWith,
      note: (text) => notes.push(text),
      dropConnection: (outageMs) => proxy?.drop(outageMs),
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      codex.exited,
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), CODEX_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    await during;
    const elapsed = Date.now() - started;
    if (code === "timeout") await codex[Symbol.asyncDispose]();
    writeFileSync(join(root, "codex.stdout.jsonl"), codex.stdout());
    writeFileSync(join(root, "codex.stderr.txt"), codex.stderr());
    writeFileSync(join(root, "requests.json"), JSON.stringify(model.requests, null, 1));
    notes.push(`codex ran ${elapsed} ms; model script: ${model.script.join(" → ") || "(no requests)"}`);

    if (scenario.interrupted !== true) {
      check("codex exits 0", code === 0, code === "timeout" ? "timed out" : `exit ${String(code)}`);
    }
    const events = parseEvents(codex.stdout());
    const facts: RunFacts = {
      target,
      sandboxMode: SANDBOX_MODE,
      root,
      work,
      events,
      outputs: model.toolOutputs,
      codexExit: code,
      firstRequest: JSON.stringify(model.requests.find((request) => request.body !== null)?.body ?? null),
      marker,
      async leftRunning() {
        let left = await processesWith(marker);
        const deadline = Date.now() + 5_000;
        while (left.length > 0 && Date.now() < deadline) {
          await Bun.sleep(100);
          left = await processesWith(marker);
        }
        return left;
      },
    };
    await scenario.check(facts, check);
    if (scenario.interrupted !== true) {
      const messages = completedItems(events, "agent_message");
      check(
        "final agent message",
        messages.some((item) => item["text"] === FINAL_TEXT),
        clip(JSON.stringify(messages.map((item) => item["text"]))),
      );
    }
    const errors = completedItems(events, "error").map((item) => String(item["message"]));
    if (errors.length > 0) notes.push(`codex error items: ${clip(JSON.stringify(errors), 600)}`);
    const failed = events.filter((event) => event["type"] === "turn.failed" || event["type"] === "error");
    if (failed.length > 0) notes.push(`codex failures: ${clip(JSON.stringify(failed), 600)}`);

    // What the model saw, against what it saw from the reference in this run of the script.
    const normalised = new Map<string, string>();
    for (const [callId, text] of model.toolOutputs) {
      if (scenario.volatile?.includes(callId) === true) continue;
      const plain = normalise(text, root, model.port);
      normalised.set(callId, scenario.unordered?.includes(callId) === true ? sortedOutput(plain) : plain);
    }
    writeFileSync(join(root, "tool_outputs.json"), JSON.stringify(Object.fromEntries(normalised), null, 1));
    if (target === "reference") {
      referenceOutputs.set(scenario.name, normalised);
    } else {
      const reference = referenceOutputs.get(scenario.name);
      if (reference !== undefined) {
        const departures = scenario.departures ?? {};
        const differing = [...new Set([...reference.keys(), ...normalised.keys()])].filter((callId) =>
          reference.get(callId) !== normalised.get(callId)
        );
        const describe = (callId: string): string =>
          `${callId}: reference ${clip(reference.get(callId) ?? "(none)", 700)} | ours ${
            clip(normalised.get(callId) ?? "(none)", 700)
          }`;
        const unexpected = differing.filter((callId) => departures[callId] === undefined);
        for (const callId of differing.filter((id) => departures[id] !== undefined)) {
          notes.push(`departure by design (${departures[callId]}): ${describe(callId)}`);
        }
        check(
          "tool outputs as from the reference",
          unexpected.length === 0,
          unexpected.length === 0
            ? `${normalised.size - differing.length} of ${normalised.size} outputs the same, ` +
              `${differing.length} departures by design`
            : unexpected.map(describe).join("; "),
        );
      }
    }

    // The server's side of the story.
    if (target === "reference") {
      if (server.stderr() !== "") notes.push(`reference stderr: ${clip(server.stderr(), 300)}`);
    } else {
      const deadline = Date.now() + sessionTtlSeconds * 1_000 + 4_000;
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
      check(
        `trace shows ${scenario.methods.join(", ")}`,
        scenario.methods.every((method) => (counts.get(method) ?? 0) >= 1),
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
  const only = ONLY?.split(",");
  const scenarios = SCENARIOS.filter((scenario) => only === undefined || only.includes(scenario.name));

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
