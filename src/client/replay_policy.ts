import type { RpcError } from "../protocol/mod.ts";
import type { CallableMethod } from "./exec_backend.ts";

/**
 * What to do with a call whose transport died before its reply (PROTOCOL.md §3.7): send it again
 * on the resumed session (its effect does not depend on how often it runs), check whether a start
 * took place (`process/read` of its id), or report that its outcome is unknown.
 */
export type ReplayPolicy = "replay" | "checkStart" | "unsafe";

type Rule = ReplayPolicy | ((params: Readonly<Record<string, unknown>>) => ReplayPolicy);

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
  "fs/createDirectory": (params) => params["recursive"] === false ? "unsafe" : "replay",
  "fs/getMetadata": "replay",
  "fs/canonicalize": "replay",
  "fs/readDirectory": "replay",
  "fs/walk": "replay",
  "fs/remove": (params) => params["force"] === false ? "unsafe" : "replay",
  "fs/copy": "replay",
  // File handles belong to the connection that opened them and die with it (§3.5).
  "fs/open": "unsafe",
  "fs/readBlock": "unsafe",
  "fs/writeBlock": "unsafe",
  // Closing a handle that died with its connection answers {} (§7.13).
  "fs/close": "replay",
} as const satisfies Record<CallableMethod, Rule>;

/** The policy for `method` called with `params`. */
export function replayPolicy(method: CallableMethod, params: unknown): ReplayPolicy {
  const rule: Rule = RULES[method];
  if (typeof rule === "string") return rule;
  return rule(typeof params === "object" && params !== null ? { ...params } : {});
}

/**
 * Whether `error`, answered to `method` sent again after a lost transport, may be the work of the
 * first send: then the call's outcome is unknown, not that error. `fs/copy` of a symlink (or of a
 * directory holding one) creates links, and a second copy meets them: `File exists` (§7.11).
 */
export function repeatMayHaveFailed(method: CallableMethod, error: RpcError): boolean {
  return method === "fs/copy" && error.kind === "AlreadyExists";
}
