/**
 * The program's environment travels to the launcher hidden under a prefix: the launcher itself
 * starts with a fixed environment of the server's, so that no variable meant for the program
 * (LD_PRELOAD, BUN_OPTIONS, DENO_DIR, …, pointing at files the sandbox wrote) acts on the
 * runtime before it has confined itself. Names are hex-encoded, so any name survives (the decoded
 * environment has no prototype, so `__proto__` too).
 */
import { envRecord, hexBytes } from "../runtime/mod.ts";

/** The prefix of an encoded variable: `EXEC_SERVER_TARGET_ENV_<hex of the name>=<value>`. */
export const TARGET_ENV_PREFIX = "EXEC_SERVER_TARGET_ENV_";

/** Encodes the program's environment for the launcher's. */
export function encodeTargetEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const encoded = envRecord();
  for (const [name, value] of Object.entries(env)) {
    const hex = Array.from(new TextEncoder().encode(name), (byte) => byte.toString(16).padStart(2, "0")).join(
      "",
    );
    encoded[`${TARGET_ENV_PREFIX}${hex}`] = value;
  }
  return encoded;
}

/** The program's environment, from the launcher's own: only the encoded variables, decoded. */
export function decodeTargetEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const decoded = envRecord();
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || !key.startsWith(TARGET_ENV_PREFIX)) continue;
    const hex = key.slice(TARGET_ENV_PREFIX.length);
    if (hex === "" || hex.length % 2 !== 0 || !/^[0-9a-f]+$/.test(hex)) continue;
    decoded[new TextDecoder().decode(hexBytes(hex))] = value;
  }
  return decoded;
}
