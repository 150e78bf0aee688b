/**
 * The scripted conversations `codex_client.ts` has the real Codex CLI run through an exec-server: what
 * the mock model asks for, turn by turn, what the work directory holds first, and what must be true
 * afterwards. Every tool output a scenario does not mark as timing-dependent is also compared, after
 * normalisation, with what the reference exec-server gave in the same run of the script.
 */
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deflateSync } from "node:zlib";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** One model turn: the tool call(s) to ask for, given the tool outputs Codex has sent back so far. */
export type Step = (outputs: ReadonlyMap<string, string>) => JsonObject | JsonObject[];

export type CheckFn = (name: string, ok: boolean, detail: string) => void;

/** What a scenario's checks see of one finished run. */
export interface RunFacts {
  readonly target: "reference" | "bun" | "deno";
  readonly sandboxMode: string;
  readonly root: string;
  readonly work: string;
  readonly events: JsonObject[];
  /** Tool outputs Codex sent back to the model, by call id. */
  readonly outputs: ReadonlyMap<string, string>;
  readonly codexExit: number | null | "timeout";
  /** The body of Codex's first model request, as JSON text (instructions, context, tools). */
  readonly firstRequest: string;
  readonly marker: string;
  /** Processes still running whose command line holds `marker`, after a short grace. */
  readonly leftRunning: () => Promise<number[]>;
}

/** What runs beside Codex while it works (e.g. interrupting it). */
export interface DuringContext {
  readonly marker: string;
  readonly codexPid: number;
  readonly processesWith: (marker: string) => Promise<number[]>;
  readonly note: (text: string) => void;
  /**
   * Drops the WebSocket between Codex and the server, both sides, and refuses new connections for
   * `outageMs` (scenarios with `dropsConnection`).
   */
  readonly dropConnection: (outageMs: number) => void;
}

export interface Scenario {
  readonly name: string;
  readonly prompt: string;
  /** Fills the work directory before Codex starts. */
  readonly setup?: (work: string, root: string) => Promise<void>;
  readonly steps: (marker: string, modelPort: number) => Step[];
  readonly during?: (context: DuringContext) => Promise<void>;
  readonly check: (facts: RunFacts, check: CheckFn) => Promise<void> | void;
  /** Methods the trace must show. */
  readonly methods: readonly string[];
  /** Call ids whose output depends on timing, left out of the comparison with the reference. */
  readonly volatile?: readonly string[];
  /**
   * Call ids that write to stdout and stderr both: which pipe is read first is a race in every
   * server, so their output lines are compared as a sorted list.
   */
  readonly unordered?: readonly string[];
  /**
   * Call ids whose output differs from the reference's by design, with the reason (a departure the
   * spec prescribes, PROTOCOL.md §10.3): reported, not failed.
   */
  readonly departures?: Readonly<Record<string, string>>;
  /** The scenario drops the connection, so Codex always talks to the server through the proxy. */
  readonly dropsConnection?: boolean;
  /** Codex does not finish the turn (it is interrupted), so no final message is expected. */
  readonly interrupted?: boolean;
}

export function execCommand(callId: string, args: Record<string, Json>): JsonObject {
  return {
    type: "function_call",
    id: `fc_${callId}`,
    status: "completed",
    call_id: callId,
    name: "exec_command",
    arguments: JSON.stringify(args),
  };
}

function writeStdin(callId: string, args: Record<string, Json>): JsonObject {
  return {
    type: "function_call",
    id: `fc_${callId}`,
    status: "completed",
    call_id: callId,
    name: "write_stdin",
    arguments: JSON.stringify(args),
  };
}

function applyPatch(callId: string, lines: readonly string[]): JsonObject {
  return {
    type: "custom_tool_call",
    id: `ctc_${callId}`,
    status: "completed",
    call_id: callId,
    name: "apply_patch",
    input: [...lines, ""].join("\n"),
  };
}

function viewImage(callId: string, path: string): JsonObject {
  return {
    type: "function_call",
    id: `fc_${callId}`,
    status: "completed",
    call_id: callId,
    name: "view_image",
    arguments: JSON.stringify({ path }),
  };
}

/** The unified-exec session id Codex reported for a command still running, or 0. */
export function sessionIdOf(output: string | undefined): number {
  const match = /session ID (\d+)/.exec(output ?? "");
  return match === null ? 0 : Number(match[1]);
}

function clip(text: string | undefined, max = 400): string {
  const flat = JSON.stringify(text ?? "(none)");
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** The completed items of one type in a `codex exec --json` event stream. */
export function completedItems(events: JsonObject[], type: string): JsonObject[] {
  const items: JsonObject[] = [];
  for (const event of events) {
    const item = event["item"];
    if (event["type"] !== "item.completed" || item === null || typeof item !== "object") continue;
    if (Array.isArray(item) || item["type"] !== type) continue;
    items.push(item);
  }
  return items;
}

/** A file's text, or null when it cannot be read. */
export async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}

/** Checks that every call in `callIds` got output containing each of `needles`. */
function expectOutput(facts: RunFacts, check: CheckFn, callId: string, needles: readonly string[]): void {
  const output = facts.outputs.get(callId);
  check(
    `${callId} output has ${needles.map((needle) => JSON.stringify(needle)).join(", ")}`,
    output !== undefined && needles.every((needle) => output.includes(needle)),
    clip(output),
  );
}

async function expectNoneLeft(facts: RunFacts, check: CheckFn): Promise<void> {
  const left = await facts.leftRunning();
  check(
    "commands left running were killed",
    left.length === 0,
    left.length === 0 ? "gone" : `still running: pids ${left.join(", ")}`,
  );
}

// ---------------------------------------------------------------------------------------------
// edit, interactive: the first two scenarios

const EDIT_COMMAND = 'echo hello > out.txt; cat out.txt; echo "executor=${E2E_EXECUTOR:-none}"';
const TTY_COMMAND = `printf 'name? '; read -r line; echo "got:$line"; ` +
  `if [ -t 0 ]; then echo tty=yes; else echo tty=no; fi`;

/** A command left running, with a marker in its argv[0] so the harness can look for it afterwards. */
function leftRunningCommand(marker: string, seconds = 30): string {
  return `exec -a ${marker} sleep ${seconds}`;
}

const edit: Scenario = {
  name: "edit",
  prompt: "Create out.txt with the word hello, then add sub/dir/new.txt.",
  steps: () => [
    () => execCommand("call_exec", { cmd: EDIT_COMMAND, yield_time_ms: 10_000 }),
    () =>
      applyPatch("call_patch", [
        "*** Begin Patch",
        "*** Add File: sub/dir/new.txt",
        "+created by apply_patch",
        "*** Update File: out.txt",
        "@@",
        " hello",
        "+patched",
        "*** End Patch",
      ]),
  ],
  // The command's output names the executor; the patch output is compared.
  volatile: ["call_exec"],
  methods: ["process/start", "fs/writeFile", "fs/createDirectory"],
  async check(facts, check) {
    const { events, work, target } = facts;
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
    expectOutput(facts, check, "call_exec", ["hello"]);
    const outTxt = await readText(join(work, "out.txt"));
    check(
      "out.txt has the command's and the patch's lines",
      outTxt === "hello\npatched\n",
      clip(outTxt ?? ""),
    );
    const newTxt = await readText(join(work, "sub", "dir", "new.txt"));
    check("apply_patch created sub/dir/new.txt", newTxt === "created by apply_patch\n", clip(newTxt ?? ""));
    const changes = completedItems(events, "file_change");
    check(
      "apply_patch reported success",
      changes.some((item) => item["status"] === "completed") &&
        (facts.outputs.get("call_patch") ?? "").includes("Success"),
      `file_change items: ${clip(JSON.stringify(changes))}; tool output: ${
        clip(facts.outputs.get("call_patch"))
      }`,
    );
  },
};

const interactive: Scenario = {
  name: "interactive",
  prompt: "Answer a prompt in a terminal, then start a long sleep.",
  steps: (marker) => [
    () => execCommand("call_tty", { cmd: TTY_COMMAND, tty: true, yield_time_ms: 1_000 }),
    (outputs) =>
      writeStdin("call_stdin", {
        session_id: sessionIdOf(outputs.get("call_tty")),
        chars: "abc\n",
        yield_time_ms: 3_000,
      }),
    () => execCommand("call_sleep", { cmd: leftRunningCommand(marker), yield_time_ms: 500 }),
  ],
  methods: ["process/start", "process/write", "process/terminate"],
  async check(facts, check) {
    const first = facts.outputs.get("call_tty");
    check(
      "PTY command still running after its first yield",
      sessionIdOf(first) !== 0 && (first ?? "").includes("name?"),
      clip(first),
    );
    expectOutput(facts, check, "call_stdin", ["got:abc", "tty=yes", "exited with code 0"]);
    check("long command reported as running", sessionIdOf(facts.outputs.get("call_sleep")) !== 0, "");
    await expectNoneLeft(facts, check);
  },
};

// ---------------------------------------------------------------------------------------------
// output: large, binary and unicode output; a subdirectory as cwd; the environment a command sees

/** Variables whose values differ between runs or executors, left out of the `env` listing. */
const ENV_VOLATILE = ["E2E_EXECUTOR", "CODEX_THREAD_ID", "CODEX_SESSION_ID", "OLDPWD", "_"];

const output: Scenario = {
  name: "output",
  prompt: "Print a lot, print bytes, look around a subdirectory.",
  async setup(work) {
    await mkdir(join(work, "sub", "deeper"), { recursive: true });
    await writeFile(join(work, "sub", "file one.txt"), "1\n");
  },
  steps: () => [
    // About 590 kB in many chunks: Codex keeps the head and the tail within max_output_tokens.
    () => execCommand("call_big", { cmd: "seq 1 100000", yield_time_ms: 20_000, max_output_tokens: 500 }),
    () =>
      execCommand("call_big_tty", {
        cmd: "seq 1 30000",
        tty: true,
        yield_time_ms: 20_000,
        max_output_tokens: 300,
      }),
    () =>
      execCommand("call_bytes", {
        cmd: "printf 'caf\\303\\251 \\342\\234\\223 \\360\\237\\230\\200\\n'; " +
          "printf 'bin:\\377\\376\\000\\001:end\\n'; printf 'no newline'",
        yield_time_ms: 10_000,
      }),
    () =>
      execCommand("call_cwd", {
        cmd: 'pwd; ls -A; echo "PWD=$PWD"',
        workdir: "sub",
        yield_time_ms: 10_000,
      }),
    () =>
      execCommand("call_env", {
        cmd: `env | cut -d= -f1 | grep -v -x ${
          ENV_VOLATILE.map((name) => `-e ${name}`).join(" ")
        } | sort | ` +
          `tr '\\n' ' '; echo; echo "HOME=$HOME TMPDIR=$TMPDIR TERM=$TERM SHLVL=$SHLVL LANG=$LANG"; ` +
          'echo "NO_COLOR=$NO_COLOR PAGER=$PAGER CODEX_CI=$CODEX_CI"; umask; ulimit -n; ' +
          "[ -t 0 ] && echo stdin=tty || echo stdin=notty; " +
          '(read -r -t 1 line && echo "read:$line") || echo "read-rc:$?"',
        yield_time_ms: 10_000,
      }),
  ],
  methods: ["process/start"],
  check(facts, check) {
    expectOutput(facts, check, "call_big", ["1\n2\n", "100000", "exited with code 0", "truncated"]);
    expectOutput(facts, check, "call_big_tty", ["1\r\n2\r\n", "30000", "exited with code 0", "truncated"]);
    expectOutput(facts, check, "call_bytes", ["café ✓ 😀", "bin:", ":end", "no newline"]);
    expectOutput(facts, check, "call_cwd", [`${facts.work}/sub\n`, "deeper", "file one.txt"]);
    expectOutput(facts, check, "call_env", ["HOME=", "stdin=notty", "CODEX_CI=1"]);
  },
};

// ---------------------------------------------------------------------------------------------
// failures: non-zero exits, signals, missing programs and directories

const failures: Scenario = {
  name: "failures",
  prompt: "Run commands that fail in every way.",
  async setup(work) {
    await writeFile(join(work, "a_file.txt"), "not a directory\n");
  },
  steps: () => [
    () => execCommand("call_exit3", { cmd: "echo before; echo oops >&2; exit 3", yield_time_ms: 10_000 }),
    () =>
      execCommand("call_term", { cmd: "echo dying; kill -TERM $$; echo unreachable", yield_time_ms: 10_000 }),
    () => execCommand("call_kill", { cmd: "kill -KILL $$", yield_time_ms: 10_000 }),
    () =>
      execCommand("call_segv", {
        cmd: "exec 2>&1; sh -c 'kill -SEGV $$'; echo after:$?",
        yield_time_ms: 10_000,
      }),
    () => execCommand("call_missing", { cmd: "no_such_command_e2e", yield_time_ms: 10_000 }),
    () => execCommand("call_badcwd", { cmd: "pwd", workdir: "no/such/dir", yield_time_ms: 10_000 }),
    () => execCommand("call_badshell", { cmd: "echo hi", shell: "/no/such/shell", yield_time_ms: 10_000 }),
    () => execCommand("call_tty_fail", { cmd: "echo ttyfail; exit 7", tty: true, yield_time_ms: 10_000 }),
    () =>
      execCommand("call_tty_kill", { cmd: "echo ttykill; kill -KILL $$", tty: true, yield_time_ms: 10_000 }),
    () =>
      execCommand("call_badcwd_tty", {
        cmd: "pwd",
        workdir: "no/such/dir",
        tty: true,
        yield_time_ms: 10_000,
      }),
    () => execCommand("call_cwd_file", { cmd: "pwd", workdir: "a_file.txt", yield_time_ms: 10_000 }),
  ],
  unordered: ["call_exit3"],
  departures: {
    call_tty_kill: "a PTY's death by signal N reports 128 + N, not 1",
    call_badcwd: "the spawn error names the cwd: `cwd <path>: <os error>` (§5.2)",
    call_cwd_file: "the spawn error names the cwd: `cwd <path>: <os error>` (§5.2)",
    call_badcwd_tty: "a missing cwd fails a PTY too (the reference starts it in $HOME)",
  },
  methods: ["process/start"],
  check(facts, check) {
    expectOutput(facts, check, "call_exit3", ["before", "oops", "exited with code 3"]);
    expectOutput(facts, check, "call_term", ["dying", "exited with code 143"]);
    expectOutput(facts, check, "call_kill", ["exited with code 137"]);
    expectOutput(facts, check, "call_segv", ["after:139", "exited with code 0"]);
    expectOutput(facts, check, "call_missing", ["no_such_command_e2e", "exited with code 127"]);
    check("call_badcwd answered", facts.outputs.has("call_badcwd"), clip(facts.outputs.get("call_badcwd")));
    check(
      "call_badshell answered",
      facts.outputs.has("call_badshell"),
      clip(facts.outputs.get("call_badshell")),
    );
    expectOutput(facts, check, "call_tty_fail", ["ttyfail", "exited with code 7"]);
  },
};

// ---------------------------------------------------------------------------------------------
// sessions: concurrent commands, polling a running pipe command, stdin of a pipe command

const TICKS = "for i in 1 2 3 4 5; do echo tick$i; sleep 0.3; done; echo ticked";

const sessions: Scenario = {
  name: "sessions",
  prompt: "Run several commands at once and poll a slow one.",
  steps: (marker) => [
    // Three calls in one response: Codex runs them concurrently.
    () => [
      execCommand("call_par1", { cmd: "sleep 0.4; echo one", yield_time_ms: 10_000 }),
      execCommand("call_par2", { cmd: "echo two; echo two-err >&2", yield_time_ms: 10_000 }),
      execCommand("call_par3", { cmd: "sleep 0.2; echo three", tty: true, yield_time_ms: 10_000 }),
    ],
    // Two large outputs at once, one through a PTY.
    () => [
      execCommand("call_big_a", { cmd: "seq 1 60000", yield_time_ms: 20_000, max_output_tokens: 200 }),
      execCommand("call_big_b", {
        cmd: "seq 60001 90000",
        tty: true,
        yield_time_ms: 20_000,
        max_output_tokens: 200,
      }),
    ],
    () => execCommand("call_slow", { cmd: TICKS, yield_time_ms: 250 }),
    // Empty chars: a poll, which waits until the command ends or the yield time passes.
    (outputs) =>
      writeStdin("call_poll", {
        session_id: sessionIdOf(outputs.get("call_slow")),
        chars: "",
        yield_time_ms: 10_000,
      }),
    // A pipe command reading stdin: Codex's pipes have no open stdin, so `read` sees the end.
    () =>
      execCommand("call_reader", {
        cmd: `read -r line; echo "read-rc:$? line:$line"; exec -a ${marker} sleep 20`,
        yield_time_ms: 500,
      }),
    (outputs) =>
      writeStdin("call_write_pipe", {
        session_id: sessionIdOf(outputs.get("call_reader")),
        chars: "hello\n",
        yield_time_ms: 500,
      }),
    // A 20000-byte paste into a raw terminal: more than the PTY's buffer holds at once.
    () =>
      execCommand("call_paste", {
        cmd: "stty raw -echo; head -c 20000 | wc -c",
        tty: true,
        yield_time_ms: 1_000,
      }),
    (outputs) =>
      writeStdin("call_paste_write", {
        session_id: sessionIdOf(outputs.get("call_paste")),
        chars: "a".repeat(20_000),
        yield_time_ms: 5_000,
      }),
    // Ctrl-C typed into a terminal.
    () => execCommand("call_ctrlc", { cmd: "echo waiting; sleep 30", tty: true, yield_time_ms: 500 }),
    (outputs) =>
      writeStdin("call_ctrlc_write", {
        session_id: sessionIdOf(outputs.get("call_ctrlc")),
        chars: "\u0003",
        yield_time_ms: 3_000,
      }),
    // A session id Codex never gave out.
    () => writeStdin("call_write_gone", { session_id: 999_999, chars: "x", yield_time_ms: 250 }),
  ],
  // The split of the ticks between the first yield and the poll depends on timing.
  volatile: ["call_slow", "call_poll"],
  unordered: ["call_par2"],
  departures: { call_ctrlc_write: "a PTY's death by signal N reports 128 + N, not 1" },
  methods: ["process/start", "process/terminate"],
  async check(facts, check) {
    expectOutput(facts, check, "call_par1", ["one", "exited with code 0"]);
    expectOutput(facts, check, "call_par2", ["two", "two-err", "exited with code 0"]);
    expectOutput(facts, check, "call_par3", ["three", "exited with code 0"]);
    const slow = facts.outputs.get("call_slow") ?? "";
    const poll = facts.outputs.get("call_poll") ?? "";
    check(
      "slow command polled to its end",
      sessionIdOf(slow) !== 0 && [1, 2, 3, 4, 5].every((i) => (slow + poll).includes(`tick${i}`)) &&
        poll.includes("ticked") && poll.includes("exited with code 0"),
      `${clip(slow)} then ${clip(poll)}`,
    );
    expectOutput(facts, check, "call_big_a", ["60000", "exited with code 0", "truncated"]);
    expectOutput(facts, check, "call_big_b", ["90000", "exited with code 0", "truncated"]);
    expectOutput(facts, check, "call_paste_write", ["20000", "exited with code 0"]);
    expectOutput(facts, check, "call_ctrlc_write", ["exited with code"]);
    expectOutput(facts, check, "call_reader", ["read-rc:1 line:"]);
    check(
      "call_write_pipe answered",
      facts.outputs.has("call_write_pipe"),
      clip(facts.outputs.get("call_write_pipe")),
    );
    check(
      "call_write_gone answered",
      facts.outputs.has("call_write_gone"),
      clip(facts.outputs.get("call_write_gone")),
    );
    await expectNoneLeft(facts, check);
  },
};

// ---------------------------------------------------------------------------------------------
// background: a command whose descendants outlive it, holding its output open or not

const background: Scenario = {
  name: "background",
  prompt: "Start things in the background.",
  steps: (marker) => [
    // The shell exits at once; a descendant keeps the output pipe open for 2 s more.
    () =>
      execCommand("call_bg_pipe", {
        cmd: `(exec -a ${marker} sleep 2) & echo started`,
        yield_time_ms: 5_000,
      }),
    // The same with the descendant's output elsewhere: nothing holds the pipe.
    () =>
      execCommand("call_bg_detached", {
        cmd: `(exec -a ${marker} sleep 2) >/dev/null 2>&1 </dev/null & echo detached`,
        yield_time_ms: 5_000,
      }),
    () =>
      execCommand("call_bg_tty", {
        cmd: `(exec -a ${marker} sleep 2) & echo started`,
        tty: true,
        yield_time_ms: 5_000,
      }),
    // A descendant that outlives the turn: left to the server's terminate at the turn's end.
    () =>
      execCommand("call_bg_long", {
        cmd: `(exec -a ${marker} sleep 30) & echo long`,
        yield_time_ms: 1_000,
      }),
  ],
  methods: ["process/start", "process/terminate"],
  async check(facts, check) {
    expectOutput(facts, check, "call_bg_pipe", ["started"]);
    expectOutput(facts, check, "call_bg_detached", ["detached", "exited with code 0"]);
    expectOutput(facts, check, "call_bg_tty", ["started"]);
    expectOutput(facts, check, "call_bg_long", ["long"]);
    // The reference's terminate does nothing once the shell has exited (PROTOCOL.md §10.3), so
    // without a sandbox it may leave the job running; this server kills the group.
    if (facts.target !== "reference" || facts.sandboxMode === "workspace-write") {
      await expectNoneLeft(facts, check);
    }
  },
};

// ---------------------------------------------------------------------------------------------
// interrupt: the user interrupts the turn (SIGINT to `codex exec`) while a command runs

const interrupt: Scenario = {
  name: "interrupt",
  prompt: "Run something long; you will be interrupted.",
  steps: (marker) => [
    () => [
      execCommand("call_long", { cmd: `echo started; exec -a ${marker} sleep 40`, yield_time_ms: 30_000 }),
      execCommand("call_long_tty", {
        cmd: `echo started; exec -a ${marker} sleep 40`,
        tty: true,
        yield_time_ms: 30_000,
      }),
    ],
  ],
  interrupted: true,
  async during({ marker, codexPid, processesWith, note }) {
    const deadline = Date.now() + 20_000;
    while ((await processesWith(marker)).length < 2) {
      if (Date.now() > deadline) {
        note("the long commands never appeared");
        return;
      }
      await Bun.sleep(50);
    }
    process.kill(codexPid, "SIGINT");
  },
  methods: ["process/start"],
  async check(facts, check) {
    check(
      "codex exits after the interrupt",
      facts.codexExit !== "timeout",
      `exit ${String(facts.codexExit)}`,
    );
    // Codex sends its terminates and drops the connection at once. The reference sometimes left
    // the commands running under workspace-write, to its session expiry (about 80 s); here they
    // must be gone within the check's 5 s, by the terminates or the harness's 1 s session expiry.
    if (facts.target !== "reference") await expectNoneLeft(facts, check);
  },
};

// ---------------------------------------------------------------------------------------------
// discovery: project instructions and skills Codex reads through the exec-server at startup

const discovery: Scenario = {
  name: "discovery",
  prompt: "Follow the project instructions.",
  async setup(work) {
    await writeFile(join(work, "AGENTS.md"), "# Project rules\n\nAlways say AGENTS-MARKER-7f3.\n");
    await mkdir(join(work, ".agents", "skills", "demo-skill"), { recursive: true });
    await writeFile(
      join(work, ".agents", "skills", "demo-skill", "SKILL.md"),
      "---\nname: demo-skill\ndescription: SKILL-MARKER-9c1 demonstrates skills.\n---\n\nDo the demo.\n",
    );
    // Codex walks skills with pruneHiddenDirectories: a skill under a hidden directory is not found.
    await mkdir(join(work, ".agents", "skills", ".hidden", "hidden-skill"), { recursive: true });
    await writeFile(
      join(work, ".agents", "skills", ".hidden", "hidden-skill", "SKILL.md"),
      "---\nname: hidden-skill\ndescription: HIDDEN-MARKER-4d2 must not be found.\n---\n\nHidden.\n",
    );
    await mkdir(join(work, "nested", "deeper"), { recursive: true });
    await writeFile(join(work, "nested", "AGENTS.md"), "Nested rules NESTED-MARKER-2b8.\n");
  },
  steps: () => [
    // The reference's bubblewrap leaves empty mount points for the protected subpaths of the
    // workspace (.git, .codex, .aws) under workspace-write; they are not the server's answer.
    () =>
      execCommand("call_ls", { cmd: "ls -A | grep -v -x -e .git -e .codex -e .aws", yield_time_ms: 10_000 }),
    () =>
      execCommand("call_nested", {
        cmd: "cat AGENTS.md",
        workdir: "nested/deeper/..",
        yield_time_ms: 10_000,
      }),
  ],
  methods: ["fs/readFile"],
  check(facts, check) {
    const request = facts.firstRequest;
    check("AGENTS.md reached the model", request.includes("AGENTS-MARKER-7f3"), "");
    check("the skill reached the model", request.includes("SKILL-MARKER-9c1"), "");
    check("the skill in a hidden directory did not", !request.includes("HIDDEN-MARKER-4d2"), "");
    expectOutput(facts, check, "call_ls", [".agents", "AGENTS.md", "nested"]);
    expectOutput(facts, check, "call_nested", ["NESTED-MARKER-2b8"]);
  },
};

// ---------------------------------------------------------------------------------------------
// reconnect: the WebSocket drops while commands run; Codex reconnects and resumes the session

const reconnect: Scenario = {
  name: "reconnect",
  prompt: "Keep working while the network fails.",
  steps: (marker) => [
    () => [
      execCommand("call_span", {
        cmd: `echo one; sleep 1.5; echo two; sleep 1.5; echo three # ${marker}`,
        yield_time_ms: 8_000,
      }),
      execCommand("call_span_tty", {
        cmd: `echo one; sleep 1.5; echo two; sleep 1.5; echo three # ${marker}`,
        tty: true,
        yield_time_ms: 8_000,
      }),
      // Ends during the outage: Codex learns of its exit by reading after resuming.
      execCommand("call_ends_in_outage", {
        cmd: `echo early; sleep 1; echo late # ${marker}`,
        yield_time_ms: 8_000,
      }),
    ],
    () => execCommand("call_after", { cmd: "echo after", yield_time_ms: 5_000 }),
  ],
  dropsConnection: true,
  async during({ marker, processesWith, note, dropConnection }) {
    const deadline = Date.now() + 20_000;
    while ((await processesWith(marker)).length < 3) {
      if (Date.now() > deadline) {
        note("the commands never appeared");
        return;
      }
      await Bun.sleep(50);
    }
    // After the first line of each; the second comes while Codex cannot reconnect, so it learns of
    // it only by reading the missed output after resuming the session.
    await Bun.sleep(700);
    dropConnection(1_500);
    note("connection dropped, 1.5 s outage");
  },
  methods: ["process/start"],
  async check(facts, check) {
    expectOutput(facts, check, "call_ends_in_outage", ["early", "late", "exited with code 0"]);
    for (const callId of ["call_span", "call_span_tty"]) {
      expectOutput(facts, check, callId, ["one", "two", "three", "exited with code 0"]);
    }
    expectOutput(facts, check, "call_after", ["after", "exited with code 0"]);
    await expectNoneLeft(facts, check);
  },
};

// ---------------------------------------------------------------------------------------------
// patch: deletes, moves, a failing patch, a write outside the workspace; view_image reads

/** The table-free CRC-32 PNG chunks carry. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** An RGB PNG of pseudo-random pixels: megabytes that do not compress, the same in every run. */
function noisyPng(width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let state = 12345;
  for (let index = 0; index < raw.length; index++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    raw[index] = index % (width * 3 + 1) === 0 ? 0 : state >>> 24;
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(raw)),
    pngChunk("IEND", new Uint8Array()),
  ]);
}

/** A 1x1 PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

const patch: Scenario = {
  name: "patch",
  prompt: "Delete, move, fail to patch, write outside, view images.",
  async setup(work, root) {
    await writeFile(join(work, "gone.txt"), "to be deleted\n");
    await writeFile(join(work, "move_me.txt"), "alpha\nbeta\n");
    await writeFile(join(work, "keep.txt"), "one\ntwo\nthree\n");
    await writeFile(join(work, "pixel.png"), PNG);
    await writeFile(join(work, "not_image.txt"), "plain text\n");
    await mkdir(join(work, "adir"));
    await writeFile(join(work, "crlf.txt"), "one\r\ntwo\r\n");
    await writeFile(join(work, "overwrite_me.txt"), "old\n");
    await writeFile(join(work, "source.txt"), "source\n");
    await writeFile(join(work, "destination.txt"), "destination\n");
    await writeFile(join(work, "large.png"), noisyPng(1200, 900));
    // A link inside the workspace to a directory outside it: Codex's own check of patch paths is
    // lexical, so only the server's sandbox stands between the patch and the outside.
    await mkdir(join(root, "outside_target"));
    await writeFile(join(root, "outside_target", "existing.txt"), "outside\n");
    await symlink(join(root, "outside_target"), join(work, "escape"));
  },
  steps: () => [
    () =>
      applyPatch("call_delete_move", [
        "*** Begin Patch",
        "*** Delete File: gone.txt",
        "*** Update File: move_me.txt",
        "*** Move to: moved/into/place.txt",
        "@@",
        " alpha",
        "-beta",
        "+gamma",
        "*** End Patch",
      ]),
    () =>
      applyPatch("call_mismatch", [
        "*** Begin Patch",
        "*** Update File: keep.txt",
        "@@",
        " one",
        "-TWO-NOT-THERE",
        "+2",
        "*** End Patch",
      ]),
    () =>
      applyPatch("call_delete_missing", [
        "*** Begin Patch",
        "*** Delete File: never_was.txt",
        "*** End Patch",
      ]),
    () =>
      applyPatch("call_outside", [
        "*** Begin Patch",
        "*** Add File: ../outside.txt",
        "+outside the workspace",
        "*** End Patch",
      ]),
    () =>
      applyPatch("call_through_link", [
        "*** Begin Patch",
        "*** Add File: escape/sneaky.txt",
        "+through a link",
        "*** Update File: escape/existing.txt",
        "@@",
        "-outside",
        "+changed through a link",
        "*** End Patch",
      ]),
    () =>
      applyPatch("call_crlf", [
        "*** Begin Patch",
        "*** Update File: crlf.txt",
        "@@",
        " one",
        "-two",
        "+2",
        "*** End Patch",
      ]),
    () =>
      applyPatch("call_add_existing", [
        "*** Begin Patch",
        "*** Add File: overwrite_me.txt",
        "+new",
        "*** End Patch",
      ]),
    () =>
      applyPatch("call_move_over", [
        "*** Begin Patch",
        "*** Update File: source.txt",
        "*** Move to: destination.txt",
        "@@",
        "-source",
        "+moved",
        "*** End Patch",
      ]),
    () => applyPatch("call_delete_dir", ["*** Begin Patch", "*** Delete File: adir", "*** End Patch"]),
    () =>
      applyPatch("call_add_under_file", [
        "*** Begin Patch",
        "*** Add File: not_image.txt/child.txt",
        "+x",
        "*** End Patch",
      ]),
    () => viewImage("call_view", "pixel.png"),
    () => viewImage("call_view_large", "large.png"),
    () => viewImage("call_view_missing", "no_such.png"),
    () => viewImage("call_view_text", "not_image.txt"),
    () => viewImage("call_view_dir", "adir"),
  ],
  methods: ["fs/readFile", "fs/writeFile", "fs/remove"],
  async check(facts, check) {
    const { work, root, sandboxMode } = facts;
    check("gone.txt deleted", (await readText(join(work, "gone.txt"))) === null, "");
    const moved = await readText(join(work, "moved", "into", "place.txt"));
    check(
      "move_me.txt moved and changed",
      moved === "alpha\ngamma\n" && (await readText(join(work, "move_me.txt"))) === null,
      clip(moved ?? "(missing)"),
    );
    expectOutput(facts, check, "call_delete_move", ["Success", "D gone.txt"]);
    check("keep.txt untouched", (await readText(join(work, "keep.txt"))) === "one\ntwo\nthree\n", "");
    expectOutput(facts, check, "call_mismatch", ["TWO-NOT-THERE"]);
    const outside = await readText(join(root, "outside.txt"));
    check(
      sandboxMode === "workspace-write"
        ? "write outside the workspace refused"
        : "write outside the workspace done",
      sandboxMode === "workspace-write" ? outside === null : outside === "outside the workspace\n",
      `${clip(outside ?? "(missing)")}; tool output ${clip(facts.outputs.get("call_outside"))}`,
    );
    const linked = await readText(join(root, "outside_target", "existing.txt"));
    const sneaky = await readText(join(root, "outside_target", "sneaky.txt"));
    check(
      sandboxMode === "workspace-write" ? "patch through a link refused" : "patch through a link done",
      sandboxMode === "workspace-write"
        ? linked === "outside\n" && sneaky === null
        : linked === "changed through a link\n" && sneaky === "through a link\n",
      `${clip(linked ?? "(missing)")}, ${clip(sneaky ?? "(missing)")}; tool output ${
        clip(facts.outputs.get("call_through_link"))
      }`,
    );
    expectOutput(facts, check, "call_view", ["[image"]);
    expectOutput(facts, check, "call_view_large", ["[image"]);
    check("crlf.txt patched", (await readText(join(work, "crlf.txt")))?.includes("2") === true, "");
    check("overwrite_me.txt replaced", (await readText(join(work, "overwrite_me.txt"))) === "new\n", "");
    check(
      "source.txt moved over destination.txt",
      (await readText(join(work, "destination.txt"))) === "moved\n" &&
        (await readText(join(work, "source.txt"))) === null,
      "",
    );
    check(
      "call_view_missing answered",
      facts.outputs.has("call_view_missing"),
      clip(facts.outputs.get("call_view_missing")),
    );
  },
};

// ---------------------------------------------------------------------------------------------
// sandbox: what a command may touch (denied under workspace-write, allowed otherwise)

const sandbox: Scenario = {
  name: "sandbox",
  prompt: "Try to write outside the workspace and reach the network.",
  async setup(work, root) {
    await writeFile(join(root, "outside_existing.txt"), "original\n");
    // A protected subpath of the workspace: read-only under workspace-write.
    await mkdir(join(work, ".git"));
    await writeFile(join(work, ".git", "config"), "[core]\n");
  },
  steps: (_marker, port) => [
    () =>
      execCommand("call_write_outside", {
        cmd:
          "exec 2>&1; echo x > ../outside_cmd.txt; echo rc=$?; echo y >> ../outside_existing.txt; echo rc=$?; " +
          "mkdir ../outside_dir; echo rc=$?; mv ../outside_existing.txt ../outside_moved.txt; echo rc=$?; " +
          "ln -s /etc/hostname ../outside_link; echo rc=$?; echo in > inside.txt; cat inside.txt",
        yield_time_ms: 10_000,
      }),
    () =>
      execCommand("call_write_outside_fail", {
        cmd: "touch ../outside_touch.txt",
        yield_time_ms: 10_000,
      }),
    () =>
      execCommand("call_net", {
        cmd:
          `(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>&1 | sed 's/[0-9][0-9]*: //'; echo "rc=\${PIPESTATUS[0]}"`,
        yield_time_ms: 10_000,
      }),
    () =>
      execCommand("call_read_outside", {
        cmd: "cat ../outside_existing.txt; ls .. | grep -c outside_existing",
        yield_time_ms: 10_000,
      }),
    () =>
      execCommand("call_write_git", {
        cmd: "exec 2>&1; echo '# appended' >> .git/config; echo rc=$?; cat .git/config",
        yield_time_ms: 10_000,
      }),
    () =>
      applyPatch("call_patch_git", [
        "*** Begin Patch",
        "*** Update File: .git/config",
        "@@",
        " [core]",
        "+# patched",
        "*** End Patch",
      ]),
    () =>
      execCommand("call_write_outside_tty", {
        cmd: "echo z > ../outside_tty.txt; echo rc=$?",
        tty: true,
        yield_time_ms: 10_000,
      }),
  ],
  methods: ["process/start"],
  async check(facts, check) {
    const { work, root, sandboxMode } = facts;
    const created = await readText(join(root, "outside_cmd.txt"));
    const existing = await readText(join(root, "outside_existing.txt"));
    if (sandboxMode === "workspace-write") {
      check(
        "nothing written outside the workspace",
        created === null && existing === "original\n" &&
          (await readText(join(root, "outside_touch.txt"))) === null &&
          (await readText(join(root, "outside_tty.txt"))) === null,
        `${clip(created ?? "(missing)")}, ${clip(existing ?? "(missing)")}`,
      );
    } else {
      check("writes outside the workspace done", created === "x\n", clip(created ?? "(missing)"));
    }
    check("inside.txt written", (await readText(join(work, "inside.txt"))) === "in\n", "");
    check("call_net answered", facts.outputs.has("call_net"), clip(facts.outputs.get("call_net")));
  },
};

export const SCENARIOS: readonly Scenario[] = [
  edit,
  interactive,
  output,
  failures,
  sessions,
  background,
  interrupt,
  reconnect,
  patch,
  discovery,
  sandbox,
];
