import { invalidParams, parsePathUri, SIGNAL_NUMBERS } from "../protocol/mod.ts";
import type { ProcessStartParams } from "../protocol/mod.ts";

/** Bound on argv plus env of one start (§2.8). */
export const MAX_START_BYTES = 1_048_576;
/** Bound on the names `envPolicy.set` adds (§6.1). */
export const MAX_POLICY_SET = 4096;

/** Maps a signal name or number to its number; -32602 `unknown signal <value>` otherwise. */
export function signalNumber(value: string | number): number {
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 1 && value <= 31) return value;
  } else if (Object.hasOwn(SIGNAL_NUMBERS, value)) {
    return SIGNAL_NUMBERS[value as keyof typeof SIGNAL_NUMBERS];
  }
  throw invalidParams(`unknown signal ${typeof value === "string" ? value : String(value)}`);
}

/** The synchronous checks of §5.1; returns the native cwd. */
export function validateStart(params: ProcessStartParams): string {
  if (utf8Length(params.processId) > 1024) {
    throw invalidParams("processId must not exceed 1024 bytes");
  }
  if (params.argv.length === 0) throw invalidParams("argv must not be empty");
  if (params.argv[0] === "") throw invalidParams("argv[0] must not be empty");
  let bytes = 0;
  params.argv.forEach((arg, index) => {
    if (arg.includes("\0")) throw invalidParams(`argv[${index}] must not contain a NUL byte`);
    bytes += utf8Length(arg) + 1;
  });
  if (params.arg0 != null && params.arg0.includes("\0")) {
    throw invalidParams("arg0 must not contain a NUL byte");
  }
  for (const [name, value] of Object.entries(params.env)) {
    if (name === "") throw invalidParams("env names must not be empty");
    if (name.includes("=")) throw invalidParams(`env name ${JSON.stringify(name)} must not contain "="`);
    if (name.includes("\0") || value.includes("\0")) {
      throw invalidParams(`env ${JSON.stringify(name.replaceAll("\0", "\\0"))} must not contain a NUL byte`);
    }
    bytes += utf8Length(name) + utf8Length(value) + 2;
  }
  if (bytes > MAX_START_BYTES) throw invalidParams(`argv and env exceed ${MAX_START_BYTES} bytes`);
  // Each name `set` adds is matched against every `includeOnly` glob: bounded like the globs.
  if (params.envPolicy != null && Object.keys(params.envPolicy.set).length > MAX_POLICY_SET) {
    throw invalidParams(`envPolicy.set must have at most ${MAX_POLICY_SET} entries`);
  }
  for (const field of ["managedNetwork", "networkProxy", "shellSnapshot"] as const) {
    if (params[field] != null) throw invalidParams(`${field} is not supported by this server`);
  }
  if (params.size != null && !params.tty) throw invalidParams("size requires tty: true");
  return parsePathUri(params.cwd, "cwd");
}

const UTF8 = new TextEncoder();

function utf8Length(text: string): number {
  return UTF8.encode(text).byteLength;
}
