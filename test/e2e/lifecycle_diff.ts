/**
 * Stateful differential: seeded random sequences of process-lifecycle operations (start with and
 * without a terminal, writes, closeStdin, signals, terminate before and after the exit, reads with
 * cursors and byte limits across the exit, duplicate and reused ids, detach and resume with output
 * produced meanwhile, a second connection to an attached session, a second initialize) run against
 * the Codex 0.169 reference exec-server and this server under Bun and Deno. Each step's observable
 * outcome is normalized and compared; a difference is classified against the documented departures
 * or printed as UNCLASSIFIED. A script, not part of `npm test`: it needs the reference.
 *
 *     mkdir -p /tmp/codexref && cd /tmp/codexref && npm i @openai/codex@0.169.0
 *     bun test/e2e/lifecycle_diff.ts [--seed N] [--sequences N] [--steps N] [--only K] [--verbose]
 *
 * The same seed gives the same sequences. Every process runs in a temp dir the script makes; every
 * server listens on 127.0.0.1 and is ended with its process group.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToUri } from "../../src/protocol/mod.ts";
import { seededRandom } from "../helpers/seeded_random.ts";
import { startTarget, TARGETS, Wire } from "./reference_wire.ts";
import type { Json, Message, Running, TargetName } from "./reference_wire.ts";

const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  const index = argv.indexOf(name);
  return index === -1 ? undefined : argv[index + 1];
}
const REFERENCE_BIN = flag("--ref") ?? "/tmp/codexref/node_modules/.bin/codex";
const SEED = Number(flag("--seed") ?? "1");
const SEQUENCES = Number(flag("--sequences") ?? "30");
const STEPS = Number(flag("--steps") ?? "10");
const ONLY = flag("--only") === undefined ? undefined : Number(flag("--only"));
const VERBOSE = argv.includes("--verbose");
/** How long a connection must stay silent before a step counts as settled. */
const QUIET_MS = Number(flag("--quiet-ms") ?? "250");
/**
 * The reference keeps a detached session and a closed process for about 80 s (protocol.md §10.3);
 * ours keep them as long here, so a long sequence compares behaviour, not the documented timers.
 */
const OUR_ARGS = ["--session-ttl", "80", "--process-retention", "80"];

// ---------------------------------------------------------------------------------------------
// Programs a sequence starts

interface Kind {
  readonly command: string;
  /** Output that says the program is in its steady state (waited for after the start). */
  readonly ready?: string;
}

const KINDS: Record<string, Kind> = {
  // Output on both streams, then an exit code.
  echo: { command: "printf 'out\\n'; printf 'err\\n' >&2; exit 3" },
  // Output without a trailing newline.
  notrail: { command: "printf 'no newline at the end'" },
  // One 300,000-byte line without a newline.
  huge: { command: "head -c 300000 /dev/zero | tr '\\0' x" },
  // Echoes its input until end of file.
  cat: { command: "exec cat" },
  // Reads one line, answers, exits 4.
  readline: { command: 'read line; echo "got:$line"; exit 4' },
  // Takes 5 bytes and exits while more input may be coming.
  head5: { command: "head -c 5; echo; exit 0" },
  // Runs until killed.
  sleeper: { command: "echo ready; exec sleep 30", ready: "ready" },
  // Kills itself with SIGKILL.
  kill9: { command: "echo before; kill -9 $$" },
  // Kills itself with SIGTERM.
  killterm: { command: "echo before; kill -TERM $$" },
  // Closes stdout and stderr but keeps running.
  closeout: { command: "echo bye; exec >&- 2>&-; exec sleep 30", ready: "bye" },
  // Exits while a background job keeps the output open.
  bgholder: { command: "sleep 30 & echo started", ready: "started" },
  // Writes something 600 ms later, then exits 6 (output produced while detached).
  later: { command: "sleep 0.6; echo late; exit 6" },
  // Dies by SIGINT on an interrupt; traps nothing.
  interruptible: { command: "echo ready; sleep 30; echo unreachable", ready: "ready" },
};
const KIND_NAMES = Object.keys(KINDS);
const SLOTS = ["p1", "p2", "p3"];

// ---------------------------------------------------------------------------------------------
// Operations (generated from the seed alone, so every target runs the very same sequence)

type Op =
  | { op: "start"; slot: string; kind: string; tty: boolean; pipeStdin: boolean }
  | { op: "write"; slot: string; text: string; writeId: string | null }
  | { op: "bigWrite"; slot: string; bytes: number; writeId: string }
  | { op: "closeStdin"; slot: string }
  | { op: "signal"; slot: string; signal: string }
  | { op: "terminate"; slot: string }
  | { op: "waitClosed"; slot: string }
  | {
    op: "read";
    slot: string;
    cursor: "zero" | "lastSeen" | "beforeExit" | "far";
    maxBytes: number | null;
    /** A long poll: it answers at news (a chunk, an exit, the close) or after this long. */
    waitMs: number;
  }
  | { op: "detachResume"; pauseMs: number }
  | { op: "dropAfter"; slot: string; request: "start" | "terminate" | "write" }
  | { op: "secondAttach" }
  | { op: "initializeAgain" };

function generate(seed: number, steps: number): Op[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const ops: Op[] = [];
  let writeIds = 0;
  const started = new Set<string>();
  // A terminal in canonical mode takes at most 4,095 bytes of a line: what a big write to one
  // echoes depends on how fast it is fed, so big writes go to pipes only.
  const terminals = new Set<string>();
  for (let i = 0; i < steps; i++) {
    const slot = started.size > 0 && random() < 0.8 ? pick([...started]) : pick(SLOTS);
    const roll = random();
    if (started.size === 0 || roll < 0.22) {
      const kind = pick(KIND_NAMES);
      const tty = random() < 0.35;
      ops.push({ op: "start", slot, kind, tty, pipeStdin: !tty && random() < 0.7 });
      if (!started.has(slot) && tty) terminals.add(slot);
      started.add(slot);
    } else if (roll < 0.36) {
      const repeat = writeIds > 0 && random() < 0.2;
      const writeId = random() < 0.1 ? null : String(repeat ? writeIds : ++writeIds);
      ops.push({ op: "write", slot, text: pick(["hello\n", "abc", "line one\nline two\n", "x"]), writeId });
    } else if (roll < 0.40) {
      const bytes = pick([70_000, 2_500_000]);
      if (!terminals.has(slot)) ops.push({ op: "bigWrite", slot, bytes, writeId: String(++writeIds) });
      else ops.push({ op: "write", slot, text: "y".repeat(3000) + "\n", writeId: String(++writeIds) });
    } else if (roll < 0.46) {
      ops.push({ op: "closeStdin", slot });
    } else if (roll < 0.52) {
      ops.push({ op: "signal", slot, signal: "interrupt" });
    } else if (roll < 0.62) {
      ops.push({ op: "terminate", slot });
    } else if (roll < 0.70) {
      ops.push({ op: "waitClosed", slot });
    } else if (roll < 0.84) {
      ops.push({
        op: "read",
        slot,
        cursor: pick(["zero", "lastSeen", "beforeExit", "far"] as const),
        maxBytes: pick([null, null, 0, 1, 5, 100_000]),
        waitMs: pick([0, 0, 1_500]),
      });
    } else if (roll < 0.89) {
      ops.push({ op: "detachResume", pauseMs: pick([0, 900]) });
    } else if (roll < 0.92) {
      ops.push({ op: "dropAfter", slot, request: pick(["start", "terminate", "write"] as const) });
    } else if (roll < 0.96) {
      ops.push({ op: "secondAttach" });
    } else {
      ops.push({ op: "initializeAgain" });
    }
  }
  return ops;
}

function describe(op: Op): string {
  switch (op.op) {
    case "start":
      return `start ${op.slot} ${op.kind}${op.tty ? " tty" : op.pipeStdin ? " pipe" : " nostdin"}`;
    case "write":
      return `write ${op.slot} ${JSON.stringify(op.text)} id=${op.writeId}`;
    case "bigWrite":
      return `bigWrite ${op.slot} ${op.bytes} id=${op.writeId}`;
    case "signal":
      return `signal ${op.slot} ${op.signal}`;
    case "read":
      return `read ${op.slot} after=${op.cursor} max=${op.maxBytes}${
        op.waitMs > 0 ? ` wait=${op.waitMs}` : ""
      }`;
    case "detachResume":
      return `detachResume pause=${op.pauseMs}`;
    case "dropAfter":
      return `dropAfter ${op.request} ${op.slot}`;
    case "secondAttach":
    case "initializeAgain":
      return op.op;
    default:
      return `${op.op} ${op.slot}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Running a sequence against one target

interface Step {
  readonly label: string;
  readonly value: Json;
  /** The process's state as this target's notifications showed it before the step (not compared). */
  readonly state?: string;
}

const b64 = (text: string): string => Buffer.from(text).toString("base64");

/** Text that is long is shown by its length and hash: the 300 kB line compares whole. */
function showText(text: string): string {
  if (text.length <= 200) return text;
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 12);
  return `<${text.length} bytes ${hash} ${JSON.stringify(text.slice(0, 8))}…${
    JSON.stringify(text.slice(-8))
  }>`;
}

class Run {
  readonly steps: Step[] = [];
  readonly dir: string;
  readonly url: string;
  wire!: Wire;
  sessionId = "";
  readonly wires: Wire[] = [];
  /** Notifications per process id across every connection of the session, in arrival order. */
  readonly events = new Map<string, Message[]>();
  /**
   * Slots a `process/closeStdin` was sent to: an extension the reference lacks, so what the
   * process does afterwards may differ by design (labels say so).
   */
  readonly closeStdinSent = new Set<string>();
  /** What each slot was started as (for the labels of later steps). */
  readonly started = new Map<string, string>();

  constructor(dir: string, url: string) {
    this.dir = dir;
    this.url = url;
  }

  /** Slots a request was sent to right before the connection went (the reference drops it). */
  readonly droppedInFlight = new Set<string>();

  /** What a slot's label says about steps after which the reference behaves otherwise by design. */
  taint(slot: string): string {
    return `${this.closeStdinSent.has(slot) ? ", closeStdin sent" : ""}${
      this.droppedInFlight.has(slot) ? ", request dropped in flight" : ""
    }${this.writesWaiting.has(slot) ? ", writes waiting" : ""}`;
  }

  /** Slots sent more than 1 MiB at once: later writes may wait behind it here (§5.7). */
  readonly writesWaiting = new Set<string>();

  /** Requests whose answer is read at the end of the sequence. */
  readonly pending: { label: string; wire: Wire; id: number }[] = [];
  /** Slots started before a connection went (events of theirs may fall in the gap). */
  readonly detachedWhileRunning = new Set<string>();

  /** The state of the process the running step is about, noted with each record. */
  currentState: string | undefined;

  record(label: string, value: Json): void {
    const state = this.currentState;
    this.steps.push(state === undefined ? { label, value } : { label, value, state });
  }

  /** What this target's notifications said of a process so far. */
  state(processId: string): string {
    this.sync();
    const methods = (this.events.get(processId) ?? []).map((message) => message["method"]);
    return methods.includes("process/closed")
      ? "closed"
      : methods.includes("process/exited")
      ? "exited"
      : "running";
  }

  async connect(): Promise<Wire> {
    const wire = await Wire.open(this.url);
    this.wires.push(wire);
    return wire;
  }

  /** Gathers the notifications a connection received since the last call. */
  collect(wire: Wire, from: { index: number }): void {
    for (; from.index < wire.received.length; from.index++) {
      const message = wire.received[from.index]?.message;
      const params = message?.["params"];
      if (typeof message?.["method"] !== "string" || params === null || typeof params !== "object") continue;
      const processId = (params as Message)["processId"];
      if (typeof processId !== "string") continue;
      const list = this.events.get(processId) ?? [];
      list.push(message);
      this.events.set(processId, list);
    }
  }

  readonly #cursors = new Map<Wire, { index: number }>();
  sync(): void {
    for (const wire of this.wires) {
      let cursor = this.#cursors.get(wire);
      if (cursor === undefined) {
        cursor = { index: 0 };
        this.#cursors.set(wire, cursor);
      }
      this.collect(wire, cursor);
    }
  }

  /** Waits until the current connection has been silent for QUIET_MS (at most 8 s). */
  async settle(): Promise<void> {
    const deadline = Date.now() + 8_000;
    let seen = -1;
    while (Date.now() < deadline) {
      const count = this.wire.received.length;
      if (count === seen) break;
      seen = count;
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    }
    this.sync();
  }

  async request(method: string, params: unknown): Promise<Message> {
    const id = this.wire.request(method, params);
    return await this.wire.replyTo(id);
  }

  maxSeq(processId: string, method?: string): number {
    let max = 0;
    for (const message of this.events.get(processId) ?? []) {
      if (method !== undefined && message["method"] !== method) continue;
      max = Math.max(max, Number((message["params"] as Message)["seq"]));
    }
    return max;
  }

  text(processId: string): string {
    return (this.events.get(processId) ?? [])
      .filter((message) => message["method"] === "process/output")
      .map((message) =>
        Buffer.from(String((message["params"] as Message)["chunk"]), "base64").toString("latin1")
      )
      .join("");
  }
}

function normalizeReply(reply: Message, run: Run): Json {
  if ("error" in reply) {
    const error = reply["error"] as Message;
    return { error: { code: error["code"] ?? null, message: normalizeText(String(error["message"]), run) } };
  }
  return { result: normalizeValue(reply["result"] ?? null, run) };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

function normalizeText(text: string, run: Run): string {
  return text.split(pathToUri(run.dir)).join("file://<TMP>").split(run.dir).join("<TMP>").replace(
    UUID,
    "<uuid>",
  );
}

function normalizeValue(value: Json, run: Run, key = ""): Json {
  if (key === "sessionId") return "<sessionId>";
  if (key === "environmentInfo") return "<environmentInfo>";
  if (typeof value === "string") return normalizeText(value, run);
  if (Array.isArray(value)) return value.map((item) => normalizeValue(item, run));
  if (value !== null && typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const name of Object.keys(value).sort()) out[name] = normalizeValue(value[name] ?? null, run, name);
    return out;
  }
  return value;
}

/** A read reply: text per stream, and each seq said relative to the cursor or the last chunk. */
function normalizeRead(reply: Message, run: Run, afterSeq: number): Json {
  if (!("result" in reply)) return normalizeReply(reply, run);
  const result = reply["result"] as Message;
  const chunks = (result["chunks"] ?? []) as Message[];
  const { chunks: _chunks, nextSeq, droppedBytes: _dropped, ...rest } = result;
  const text: Record<string, string> = {};
  for (const chunk of chunks) {
    const stream = String(chunk["stream"]);
    text[stream] = (text[stream] ?? "") + Buffer.from(String(chunk["chunk"]), "base64").toString("latin1");
  }
  // Past the end, nextSeq is the log's length, which counts chunks (their boundaries mean nothing).
  const last = chunks.length === 0 && afterSeq >= 1_000_000
    ? Number(nextSeq) <= afterSeq ? Number(nextSeq) : Number.NaN
    : chunks.length === 0
    ? afterSeq
    : Number(chunks[chunks.length - 1]?.["seq"]);
  const first = chunks.length === 0 ? null : Number(chunks[0]?.["seq"]) - afterSeq;

  return {
    text: Object.fromEntries(Object.entries(text).sort().map(([stream, body]) => [stream, showText(body)])),
    chunksReturned: chunks.length > 0,
    firstSeqAfterCursor: first,
    nextSeqAfterLast: Number(nextSeq) - last,
    ...(normalizeValue(rest as Json, run) as Record<string, Json>),
  };
}

/** A process's notifications, reduced to what is comparable: joined text, exit, seq facts. */
function summarizeEvents(events: Message[]): Json {
  const text: Record<string, string> = {};
  let exited: Json = null;
  const seqs: number[] = [];
  const kinds: string[] = [];
  for (const event of events) {
    const method = String(event["method"]).replace("process/", "");
    const params = event["params"] as Message;
    seqs.push(Number(params["seq"]));
    kinds.push(method);
    if (method === "output") {
      const stream = String(params["stream"]);
      text[stream] = (text[stream] ?? "") + Buffer.from(String(params["chunk"]), "base64").toString("latin1");
    }
    if (method === "exited") {
      const { processId: _p, seq: _s, ...rest } = params;
      exited = rest;
    }
  }
  const sorted = [...seqs].sort((a, b) => a - b);
  return {
    text: Object.fromEntries(Object.entries(text).sort().map(([stream, body]) => [stream, showText(body)])),
    exited,
    closedCount: kinds.filter((kind) => kind === "closed").length,
    exitedCount: kinds.filter((kind) => kind === "exited").length,
    closedLast: kinds[kinds.length - 1] === "closed" || !kinds.includes("closed"),
    noRepeatedSeq: new Set(seqs).size === seqs.length,
    arrivalInSeqOrder: seqs.every((seq, index) => seq === sorted[index]),
  };
}

function startParams(run: Run, processId: string, op: Extract<Op, { op: "start" }>): Message {
  return {
    processId,
    argv: ["/bin/bash", "-c", KINDS[op.kind]?.command ?? "true"],
    cwd: pathToUri(run.dir),
    env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8", TERM: "dumb" },
    envPolicy: { inherit: "none", ignoreDefaultExcludes: true, exclude: [], set: {}, includeOnly: [] },
    tty: op.tty,
    pipeStdin: op.pipeStdin,
    arg0: null,
    sandbox: null,
  };
}

async function handshake(run: Run, resume: boolean): Promise<Message> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const wire = await run.connect();
    const id = wire.request("initialize", {
      clientName: "codex-environment",
      resumeSessionId: resume ? run.sessionId : null,
    });
    const reply = await wire.replyTo(id);
    // The server learns of a dropped connection asynchronously: retry while it still says attached.
    if ("error" in reply && (reply["error"] as Message)["code"] === -32010 && Date.now() < deadline) {
      wire.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if ("result" in reply) {
      run.sessionId = String((reply["result"] as Message)["sessionId"]);
      wire.send({ method: "initialized", params: {} });
      run.wire = wire;
    }
    return reply;
  }
}

async function runOp(run: Run, op: Op, index: number): Promise<void> {
  run.currentState = "slot" in op ? run.state(op.slot) : undefined;
  const slotNote = "slot" in op && op.op !== "start"
    ? ` [${run.started.get(op.slot) ?? "never started"}${run.taint(op.slot)}]`
    : "";
  const label = `#${index} ${describe(op)}${slotNote}`;
  if (op.op === "closeStdin") run.closeStdinSent.add(op.slot);
  // Labels are the same for every target: they name what was sent, never what a target answered.
  if (op.op === "bigWrite" && op.bytes > 1_048_576) run.writesWaiting.add(op.slot);
  // The reference refuses a write without writeId (§10.3): what the process reads differs after it.
  if (op.op === "write" && op.writeId === null) run.closeStdinSent.add(op.slot);
  switch (op.op) {
    case "start": {
      const reply = await run.request("process/start", startParams(run, op.slot, op));
      run.record(label, normalizeReply(reply, run));
      if ("result" in reply) {
        run.started.set(op.slot, `${op.kind}${op.tty ? " tty" : op.pipeStdin ? " pipe" : " nostdin"}`);
        const ready = KINDS[op.kind]?.ready;
        if (ready !== undefined) {
          await run.wire.until(
            () => (run.sync(), run.text(op.slot).includes(ready) ? true : undefined),
            ready,
          )
            .catch(() => run.record(`${label} ready`, "never ready"));
        }
      }
      break;
    }
    case "write":
    case "bigWrite": {
      // Past 1 MiB of unread input this server answers a write once the child has drained it, and
      // later writes to that process wait behind it in order (§5.7): a child that never reads
      // leaves them pending, so the sequence goes on and their answers are read at the end.
      const params: Message = {
        processId: op.slot,
        chunk: op.op === "write" ? b64(op.text) : Buffer.alloc(op.bytes, "y").toString("base64"),
      };
      if (op.writeId !== null) params["writeId"] = op.writeId;
      const wire = run.wire;
      const id = wire.request("process/write", params);
      const reply = await wire.replyTo(id, 3_000).catch(() => undefined);
      if (reply !== undefined) run.record(label, normalizeReply(reply, run));
      else {
        run.record(label, "<no answer within 3 s>");
        run.pending.push({ label, wire, id });
      }
      break;
    }
    case "closeStdin":
      run.record(label, normalizeReply(await run.request("process/closeStdin", { processId: op.slot }), run));
      break;
    case "signal":
      run.record(
        label,
        normalizeReply(await run.request("process/signal", { processId: op.slot, signal: op.signal }), run),
      );
      break;
    case "terminate":
      run.record(label, normalizeReply(await run.request("process/terminate", { processId: op.slot }), run));
      break;
    case "waitClosed": {
      const closed = await run.wire.until(
        () => {
          run.sync();
          return (run.events.get(op.slot) ?? []).some((m) => m["method"] === "process/closed")
            ? true
            : undefined;
        },
        `closed ${op.slot}`,
        4_000,
      ).then(() => "closed", () => "not closed within 4 s");
      run.record(label, closed);
      break;
    }
    case "read": {
      run.sync();
      const afterSeq = op.cursor === "zero"
        ? 0
        : op.cursor === "far"
        ? 1_000_000
        : op.cursor === "lastSeen"
        ? run.maxSeq(op.slot)
        : Math.max(0, run.maxSeq(op.slot, "process/exited") - 1);
      const reply = await run.request("process/read", {
        processId: op.slot,
        afterSeq,
        maxBytes: op.maxBytes,
        waitMs: op.waitMs,
      });
      run.record(label, normalizeRead(reply, run, afterSeq));
      break;
    }
    case "detachResume": {
      for (const slot of run.started.keys()) run.detachedWhileRunning.add(slot);
      run.wire.close();
      await run.wire.closed;
      if (op.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, op.pauseMs));
      const reply = await handshake(run, true);
      run.record(label, normalizeReply(reply, run));
      break;
    }
    case "dropAfter": {
      // The request is sent, then the connection goes at once; the resumed session shows its effect.
      if (op.request === "start") {
        run.wire.request(
          "process/start",
          startParams(run, op.slot, {
            op: "start",
            slot: op.slot,
            kind: "sleeper",
            tty: false,
            pipeStdin: true,
          }),
        );
      } else if (op.request === "terminate") run.wire.request("process/terminate", { processId: op.slot });
      else {run.wire.request("process/write", {
          processId: op.slot,
          chunk: b64("dropped\n"),
          writeId: "drop",
        });}
      run.droppedInFlight.add(op.slot);
      for (const slot of run.started.keys()) run.detachedWhileRunning.add(slot);
      run.wire.close();
      await run.wire.closed;
      const resumed = await handshake(run, true);
      run.record(`${label} resume`, normalizeReply(resumed, run));
      await run.settle();
      const reply = await run.request("process/read", { processId: op.slot, afterSeq: 0, waitMs: 0 });
      const result = reply["result"] as Message | undefined;
      run.record(
        `${label} then read`,
        result === undefined ? normalizeReply(reply, run) : {
          exited: result["exited"] ?? null,
          closed: result["closed"] ?? null,
          exitCode: result["exitCode"] ?? null,
        },
      );
      if (result !== undefined && op.request === "start" && !run.started.has(op.slot)) {
        run.started.set(op.slot, "sleeper pipe (dropped start)");
      }
      break;
    }
    case "secondAttach": {
      const wire = await run.connect();
      const id = wire.request("initialize", {
        clientName: "codex-environment",
        resumeSessionId: run.sessionId,
      });
      const reply = await wire.replyTo(id);
      run.record(label, normalizeReply(reply, run));
      // The refused connection stays `new`: it may start a fresh session of its own.
      const fresh = wire.request("initialize", { clientName: "codex-environment", resumeSessionId: null });
      run.record(`${label} then fresh initialize`, normalizeReply(await wire.replyTo(fresh), run));
      wire.close();
      break;
    }
    case "initializeAgain": {
      const reply = await run.request("initialize", {
        clientName: "codex-environment",
        resumeSessionId: null,
      });
      run.record(label, normalizeReply(reply, run));
      break;
    }
  }
  await run.settle();
}

async function runSequence(target: TargetName, server: Running, base: string, ops: Op[]): Promise<Step[]> {
  const dir = await realpath(await mkdtemp(join(base, `${target}-`)));
  const run = new Run(dir, server.url);
  try {
    const reply = await handshake(run, false);
    if (!("result" in reply)) throw new Error(`initialize failed: ${JSON.stringify(reply)}`);
    for (const [index, op] of ops.entries()) await runOp(run, op, index);
    // The end: every started process is terminated, waited for, and read whole.
    for (const slot of SLOTS) {
      if (!run.started.has(slot)) continue;
      const what = `${run.started.get(slot)}${run.taint(slot)}`;
      run.currentState = run.state(slot);
      run.record(
        `end terminate ${slot} [${what}]`,
        normalizeReply(await run.request("process/terminate", { processId: slot }), run),
      );
    }
    for (const slot of SLOTS) {
      if (!run.started.has(slot)) continue;
      const what = `${run.started.get(slot)}${run.taint(slot)}`;
      run.currentState = undefined;
      // A read from 0 answers at once while chunks exist: wait for the close first (10 s at most).
      await run.wire.until(() => (run.state(slot) === "closed" ? true : undefined), `closed ${slot}`)
        .catch(() => undefined);
      const reply = await run.request("process/read", { processId: slot, afterSeq: 0 });
      run.record(`end read ${slot} [${what}]`, normalizeRead(reply, run, 0));
    }
    for (const { label, wire, id } of run.pending) {
      const reply = await wire.replyTo(id, 5_000).catch(() => undefined);
      run.record(
        `${label} late answer`,
        reply === undefined
          ? (wire.ws.readyState === WebSocket.OPEN ? "<none>" : "<connection gone>")
          : normalizeReply(reply, run),
      );
    }
    await run.settle();
    for (const slot of SLOTS) {
      if (!run.started.has(slot)) continue;
      run.record(
        `end notifications ${slot} [${run.started.get(slot)}${run.taint(slot)}${
          run.detachedWhileRunning.has(slot) ? ", detached while running" : ""
        }]`,
        summarizeEvents(run.events.get(slot) ?? []),
      );
    }
  } catch (error) {
    run.record("<sequence failed>", String(error));
  } finally {
    for (const wire of run.wires) wire.close();
  }
  return run.steps;
}

// ---------------------------------------------------------------------------------------------
// Classification

/**
 * Documented departures, first match wins: (a) decided by protocol.md, (c) written down in
 * docs/protocol_notes.md. The value of the reference (`codex`) and ours (`bun`/`deno`) are checked,
 * not only the label, so a rule never hides a difference of another kind.
 */
const KNOWN: readonly {
  why: string;
  test: (label: string, codex: string, ours: string, state: string | undefined) => boolean;
}[] = [
  {
    why: "(a) §11.7: process/closeStdin is an extension; the reference answers -32601",
    test: (label, codex) => /closeStdin p/.test(label) && codex.includes("-32601"),
  },
  {
    why: "(a) §10.3: writeId is optional here, required by the reference",
    test: (label, codex, ours) =>
      /id=null/.test(label) && codex.includes("missing field `writeId`") && ours.includes("result"),
  },
  {
    why: "cascade of §11.7/§10.3: closeStdin or a write without writeId left the reference's stdin otherwise",
    test: (label) => /closeStdin sent/.test(label),
  },
  {
    why:
      "(a) §5.7: a write to a closed process is stdinClosed here (reference: accepted, or -32603 for a terminal)",
    test: (label, codex, ours, state) =>
      /write/i.test(label) && state === "closed" && ours.includes('"stdinClosed"') &&
      (codex.includes('"accepted"') || codex.includes("failed to write to process stdin")),
  },
  {
    why: "(a) §5.7: a write past 1 MiB is answered once drained; the child exited first (notes §8)",
    test: (label, codex, ours) =>
      /bigWrite p\d 2500000/.test(label) && codex.includes('"accepted"') && ours.includes('"stdinClosed"'),
  },
  {
    why: "(a) §10.3: a terminal process killed by a signal exits 1 in the reference, 128 + N here",
    test: (label, codex, ours) =>
      / tty[\],]/.test(label) && /"exitCode":1[,}]/.test(codex) &&
      /"exitCode":1(29|3[0-9]|4[0-3])[,}]/.test(ours) &&
      codex === ours.replace(/"exitCode":1(29|3[0-9]|4[0-3])([,}])/, '"exitCode":1$2'),
  },
  {
    why: "(a) §5.4: chunk boundaries mean nothing; a maxBytes read returns whole chunks (8 KiB there)",
    test: (label, codex, ours) => {
      const strip = (text: string) => text.replace(/"text":\{.*?\},"chunksReturned"/, '"chunksReturned"');
      return /read p\d after=\w+ max=\d+.* \[huge/.test(label) && strip(codex) === strip(ours);
    },
  },
  {
    why: "(a) §5.4: stdout and stderr interleave in the order their reads complete (a race)",
    test: (label, codex, ours) => {
      const both = (text: string) => text.replace(/"stderr":"err\\n"|"stdout":"out\\n"/, "<one stream>");
      return /\[echo /.test(label) && codex !== ours && both(codex) === both(ours);
    },
  },
  {
    why: "(a) §5.4: where output falls against exited is a race (the reference may number exited first)",
    test: (_label, codex, ours) => {
      const strip = (text: string) =>
        text.replace(/"firstSeqAfterCursor":[^,]*,"nextSeqAfterLast":[^,]*,/, "")
          .replace(/"exitCode":1(29|3[0-9]|4[0-3]),/, '"exitCode":1,');
      return codex !== ours && strip(codex) === strip(ours);
    },
  },
  {
    why: "(c) notes §13: the reference drops requests in flight when the connection goes; here they run",
    test: (label) => /dropAfter (terminate|write) .* then read|request dropped in flight/.test(label),
  },
  {
    why:
      "(c) notes §13: the reference drops a start in flight when the connection goes (id stuck `starting`)",
    test: (label, codex, ours) =>
      (/dropAfter start .* then read/.test(label) &&
        /unknown process id|is starting/.test(codex) && !ours.includes("error")) ||
      (/\(dropped start\)/.test(label) && codex === "<missing>"),
  },
  {
    why: "(a) §5.7: past 1 MiB a write is answered once the child drained it (notes §8)",
    test: (label, codex, ours) =>
      /bigWrite p\d 2500000/.test(label) && codex.includes('"accepted"') &&
      (ours === '"<no answer within 3 s>"' ||
        /late answer/.test(label) && /stdinClosed|accepted|<connection gone>/.test(ours)),
  },
  {
    why: "(a) §5.7: writes behind one past 1 MiB wait in order; the reference accepts them at once",
    test: (label, codex, ours) =>
      /writes waiting/.test(label) && /write/i.test(label) &&
      /"accepted"|failed to write/.test(codex) &&
      (ours === '"<no answer within 3 s>"' || /late answer/.test(label)),
  },
  {
    why: "(a) §3.6: events appended while detached are not sent; which fell in the gap is timing",
    test: (label) => /end notifications .*detached while running/.test(label),
  },
  {
    why: "(a) §10.3/§5.9: terminate after the exit kills the group here, releasing a holder of the output",
    test: (label, codex, ours) =>
      /bgholder/.test(label) &&
      (/terminate|end read|end notifications/.test(label) ||
        codex.includes('"closed":false') && ours.includes('"closed":true')),
  },
];

function classify(
  label: string,
  values: Partial<Record<TargetName, string>>,
  states: Partial<Record<TargetName, string>>,
): string {
  const codex = values.codex ?? "";
  const notes = new Set<string>();
  for (const target of ["bun", "deno"] as const) {
    const ours = values[target] ?? "";
    if (ours === codex) continue;
    const known = KNOWN.find((rule) => rule.test(label, codex, ours, states[target]));
    if (known === undefined) return "UNCLASSIFIED";
    notes.add(known.why);
  }
  return [...notes].join("; ");
}

// ---------------------------------------------------------------------------------------------

function serverEnv(home: string): Record<string, string> {
  return {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: home,
    CODEX_HOME: join(home, ".codex"),
    LANG: "C.UTF-8",
    SHELL: "/bin/bash",
    TMPDIR: home,
    DENO_NO_UPDATE_CHECK: "1",
  };
}

async function main(): Promise<number> {
  if (!existsSync(REFERENCE_BIN)) {
    console.error(`reference not found at ${REFERENCE_BIN}; install @openai/codex@0.169.0 (see the header)`);
    return 2;
  }
  const base = await mkdtemp(join(tmpdir(), "lifecycle-diff-"));
  const servers = new Map<TargetName, Running>();
  let clean = 0;
  let unclassified = 0;
  let ran = 0;
  try {
    for (const target of TARGETS) {
      const home = join(base, `home-${target}`);
      await mkdir(join(home, ".codex"), { recursive: true });
      servers.set(target, await startTarget(target, home, serverEnv(home), REFERENCE_BIN, OUR_ARGS));
    }
    for (let n = 0; n < SEQUENCES; n++) {
      const seed = SEED * 100_000 + n;
      if (ONLY !== undefined && ONLY !== n) continue;
      const ops = generate(seed, STEPS);
      ran++;
      const results = await Promise.all(
        TARGETS.map((target) => runSequence(target, servers.get(target) as Running, base, ops)),
      );
      const labels: string[] = [];
      for (const steps of results) {
        for (const step of steps) if (!labels.includes(step.label)) labels.push(step.label);
      }
      const lines: string[] = [];
      let sequenceUnclassified = 0;
      for (const label of labels) {
        const values: Partial<Record<TargetName, string>> = {};
        const states: Partial<Record<TargetName, string>> = {};
        TARGETS.forEach((target, index) => {
          const step = results[index]?.find((s) => s.label === label);
          values[target] = step === undefined ? "<missing>" : JSON.stringify(step.value);
          if (step?.state !== undefined) states[target] = step.state;
        });
        if (values.codex === values.bun && values.codex === values.deno) {
          if (VERBOSE) lines.push(`  = ${label}: ${values.codex}`);
          continue;
        }
        const note = classify(label, values, states);
        if (note === "UNCLASSIFIED") sequenceUnclassified++;
        lines.push(
          `  ● ${label}  [${note}]${
            Object.keys(states).length > 0 ? ` states ${JSON.stringify(states)}` : ""
          }`,
        );
        lines.push(`      codex: ${values.codex}`);
        if (values.bun === values.deno) lines.push(`      ours:  ${values.bun}`);
        else lines.push(`      bun:   ${values.bun}`, `      deno:  ${values.deno}`);
      }
      const differences = lines.filter((line) => line.startsWith("  ●")).length;
      if (differences === 0) clean++;
      unclassified += sequenceUnclassified;
      console.log(
        `sequence ${n} (seed ${seed}): ${ops.length} ops, ${labels.length} steps, ${differences} different, ${sequenceUnclassified} unclassified`,
      );
      if (differences > 0 || VERBOSE) {
        console.log(`  ops: ${ops.map(describe).join(" | ")}`);
        for (const line of lines) console.log(line);
      }
    }
  } finally {
    for (const server of servers.values()) await server[Symbol.asyncDispose]();
    await rm(base, { recursive: true, force: true });
  }
  console.log(
    `\n${ran} sequences, ${clean} without any difference, ${unclassified} unclassified differences`,
  );
  return unclassified === 0 ? 0 : 1;
}

process.exitCode = await main();
