import type { z } from "zod";
import {
  ErrorCode,
  findLoneSurrogate,
  invalidParams,
  loneSurrogateProblem,
  RpcError,
} from "../protocol/mod.ts";
import type { WireError } from "../protocol/mod.ts";

/** Where unexpected errors are reported with their full detail. */
export type ErrorLog = (message: string, detail: unknown) => void;

/**
 * The one place where a thrown value becomes a wire error: RpcError passes through, anything
 * else is -32603 `internal error` with the detail only in the log.
 */
export function toWireError(error: unknown, log: ErrorLog): WireError {
  if (error instanceof RpcError) return error.toWire();
  log("internal error", error);
  return new RpcError(ErrorCode.Internal, "Internal", "internal error").toWire();
}

/**
 * Parses params with a schema; a mismatch is -32602 naming the method and the member. So is a
 * string anywhere in them (an ignored member or a member name too) that holds a lone surrogate
 * (PROTOCOL.md §2.4): it has no UTF-8 form, and a handler would pass on U+FFFD in its place.
 */
export function parseParams<S extends z.ZodType>(method: string, schema: S, params: unknown): z.infer<S> {
  const lone = findLoneSurrogate(params);
  if (lone !== null) {
    const problem = loneSurrogateProblem(lone.text, lone.index, lone.inName ? " of a member name" : "");
    const path = lone.path.map(String).join(".");
    throw invalidParams(`invalid params for ${method}: ${path === "" ? problem : `${path}: ${problem}`}`);
  }
  // zod leaves `input` out of issues unless asked, and the message tells a missing member from a
  // mistyped one by it.
  const parsed = schema.safeParse(params, { reportInput: true });
  if (parsed.success) return parsed.data;
  throw invalidParams(`invalid params for ${method}: ${formatIssues(parsed.error.issues)}`);
}

/**
 * Formats zod issues as `member.path: problem`, joined by `; `: the first three problems, each
 * once. Of several bounds on one member only the tightest is named (`afterSeq: 1e16` breaks both
 * the safe-integer bound and the member's own, and only the lower maximum says what is allowed).
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  // The tightest bound of each kind per member, found in one pass: comparing every issue with
  // every other took hours for `argv` of 500,000 numbers, with the server's only thread.
  const tightest = new Map<string, z.core.$ZodIssue>();
  for (const issue of issues) {
    const key = boundKey(issue);
    if (key === null) continue;
    const best = tightest.get(key);
    if (best === undefined || tighter(issue, best)) tightest.set(key, issue);
  }
  const lines = new Set<string>();
  for (const issue of issues) {
    const key = boundKey(issue);
    if (key !== null && tightest.get(key) !== issue) continue;
    const path = issue.path.map(String).join(".");
    const problem = describeIssue(issue);
    lines.add(path === "" ? problem : `${path}: ${problem}`);
    if (lines.size === 3) break;
  }
  return [...lines].join("; ");
}

/** For a bound (`too_big`, `too_small`), its kind and member; null for any other issue. */
function boundKey(issue: z.core.$ZodIssue): string | null {
  if (issue.code !== "too_big" && issue.code !== "too_small") return null;
  return `${issue.code}\0${issue.path.map(String).join("\0")}`;
}

/** Whether bound `issue` allows less than `other`, a bound of the same kind on the same member. */
function tighter(issue: z.core.$ZodIssue, other: z.core.$ZodIssue): boolean {
  if (issue.code === "too_big" && other.code === "too_big") {
    return Number(issue.maximum) < Number(other.maximum);
  }
  if (issue.code === "too_small" && other.code === "too_small") {
    return Number(issue.minimum) > Number(other.minimum);
  }
  return false;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined
        ? "required"
        : `expected ${issue.expected}, got ${typeName(issue.input)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    case "too_small":
      return `must be at least ${String(issue.minimum)}`;
    case "too_big":
      return issue.origin === "array"
        ? `must have at most ${String(issue.maximum)} items`
        : `must be at most ${String(issue.maximum)}`;
    case "invalid_union":
      return issue.input === undefined ? "required" : "matches none of the accepted forms";
    default:
      return issue.message.toLowerCase();
  }
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && !Number.isInteger(value)) return "a fraction";
  return typeof value;
}
