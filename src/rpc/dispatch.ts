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
  const kept = issues.filter((issue) => !issues.some((other) => looser(issue, other)));
  const lines = kept.map((issue) => {
    const path = issue.path.map(String).join(".");
    const problem = describeIssue(issue);
    return path === "" ? problem : `${path}: ${problem}`;
  });
  return [...new Set(lines)].slice(0, 3).join("; ");
}

/** Whether `issue` is a bound on the same member as `other` and of the same kind, but a looser one. */
function looser(issue: z.core.$ZodIssue, other: z.core.$ZodIssue): boolean {
  if (issue === other || issue.code !== other.code || issue.path.join("\0") !== other.path.join("\0")) {
    return false;
  }
  if (issue.code === "too_big" && other.code === "too_big") {
    return Number(other.maximum) < Number(issue.maximum);
  }
  if (issue.code === "too_small" && other.code === "too_small") {
    return Number(other.minimum) > Number(issue.minimum);
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
