import type { RpcError } from "../protocol/mod.ts";
import type { CallableMethod } from "./exec_backend.ts";

/**
 * What to do with a call whose transport died before its reply (PROTOCOL.md §3.7): send it again
 * on the resumed session (its effect does not depend on how often it runs), check whether a start
 * took place (`process/read` of its id), or report that its outcome is unknown.
 */
export type ReplayPolicy = "replay" | "checkStart" | "unsafe";

type Params = Readonly<Record<string, unknown>>;
type Rule = ReplayPolicy | ((params: Params) => ReplayPolicy);

/** One rule per method, so a new method cannot be added without deciding. */
const RULES = {
  "environment/info": "replay",
  "process/start": "checkStart",
  "process/read": "replay",
  // A repeat of a writeId writes nothing: it gets `accepted`, or the answer of the write with
  // that id that still waits (§5.7).
  "process/write": (params) =>
    typeof params["writeId"] === "string" && params["writeId"] !== "" ? "replay" : "unsafe",
  // A second interrupt is a different request from the first.
  "process/signal": "unsafe",
  "process/terminate": "replay",
  "process/resize": "replay",
  "process/closeStdin": "replay",
  "process/list": "replay",
  "fs/readFile": "replay",
  "fs/writeFile": "replay",
  "fs/createDirectory": "replay",
  "fs/getMetadata": "replay",
  "fs/canonicalize": "replay",
  "fs/readDirectory": "replay",
  "fs/walk": "replay",
  "fs/remove": "replay",
  "fs/copy": "replay",
  // File handles belong to the connection that opened them and die with it (§3.5).
  "fs/open": "unsafe",
  "fs/readBlock": "unsafe",
  "fs/writeBlock": "unsafe",
  // Closing a handle that died with its connection answers {} (§7.13).
  "fs/close": "replay",
} as const satisfies Record<CallableMethod, Rule>;

/** What a call sent again was answered: its result, or the server's error. */
export type RepeatAnswer = { readonly result: unknown } | { readonly error: RpcError };

/** Whether an answer to a repeat may describe the first send's work rather than the call's outcome. */
type Doubt = (answer: RepeatAnswer, params: Params) => boolean;

const NEVER: Doubt = () => false;

/**
 * One rule per replayed method: which answers a repeat can get because the first send took
 * effect. A repeat that meets the first send's work cannot tell what the first one did, so the
 * call's outcome is unknown; any other answer is the call's own.
 */
const DOUBTS = {
  "environment/info": NEVER,
  // A start that may have taken place is checked for, not sent again blindly.
  "process/start": NEVER,
  "process/read": NEVER,
  // A remembered writeId answers `accepted`; a process removed since (its retention ended, §3.9)
  // takes the memory of the write with it.
  "process/write": (answer) => resultIs(answer, "status", "unknownProcess"),
  "process/signal": NEVER,
  // The first one killed it: the repeat finds it exited, closed or removed (§5.9).
  "process/terminate": (answer) => resultIs(answer, "running", false),
  // The first one closed it (§11.7), and the process may have closed and gone since.
  "process/closeStdin": (answer) =>
    resultIs(answer, "status", "stdinClosed") || resultIs(answer, "status", "unknownProcess"),
  // A size set twice is the same size, unless the process has been removed since.
  "process/resize": (answer) => errorIs(answer, "UnknownProcess"),
  "process/list": NEVER,
  "fs/readFile": NEVER,
  "fs/writeFile": NEVER,
  // Without `recursive`, the directory the first one made is in the way (§7.5).
  "fs/createDirectory": (answer, params) =>
    params["recursive"] === false && (errorIs(answer, "AlreadyExists") || errnoIs(answer, "EEXIST")),
  "fs/getMetadata": NEVER,
  "fs/canonicalize": NEVER,
  "fs/readDirectory": NEVER,
  "fs/walk": NEVER,
  // Without `force`, the path the first one removed is missing (§7.10).
  "fs/remove": (answer, params) => params["force"] === false && errorIs(answer, "NotFound"),
  // A symlink (or a directory holding one) is copied as links, and a second copy meets them:
  // `File exists` (§7.11).
  "fs/copy": (answer) => errorIs(answer, "AlreadyExists") || errnoIs(answer, "EEXIST"),
  "fs/open": NEVER,
  "fs/readBlock": NEVER,
  "fs/writeBlock": NEVER,
  "fs/close": NEVER,
} as const satisfies Record<CallableMethod, Doubt>;

/** The policy for `method` called with `params`. */
export function replayPolicy(method: CallableMethod, params: unknown): ReplayPolicy {
  const rule: Rule = RULES[method];
  if (typeof rule === "string") return rule;
  return rule(paramsOf(params));
}

/**
 * Whether `answer`, to `method` sent again after a lost transport, may be the work of the first
 * send: then the call's outcome is unknown, not that answer.
 */
export function repeatIsInDoubt(method: CallableMethod, params: unknown, answer: RepeatAnswer): boolean {
  const doubt: Doubt = DOUBTS[method];
  return doubt(answer, paramsOf(params));
}

function paramsOf(params: unknown): Params {
  return typeof params === "object" && params !== null ? { ...params } : {};
}

function resultIs(answer: RepeatAnswer, member: string, value: unknown): boolean {
  if (!("result" in answer)) return false;
  const result = answer.result;
  return typeof result === "object" && result !== null && (result as Params)[member] === value;
}

function errorIs(answer: RepeatAnswer, kind: RpcError["kind"]): boolean {
  return "error" in answer && answer.error.kind === kind;
}

function errnoIs(answer: RepeatAnswer, errno: string): boolean {
  return "error" in answer && answer.error.errno === errno;
}
