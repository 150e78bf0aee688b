import {
  decodeBase64,
  ProcessClosedParamsSchema,
  ProcessExitedParamsSchema,
  ProcessOutputFrameParamsSchema,
  ProcessOutputParamsSchema,
} from "../protocol/mod.ts";
import type { ProcessClosedParams, ProcessExitedParams, ProcessOutputParams } from "../protocol/mod.ts";

/** What an output notification says besides its bytes. */
export type OutputFacts = Omit<ProcessOutputParams, "chunk">;

/**
 * A process notification as a backend delivers it, params already validated. Output carries its
 * bytes decoded, whether they came as base64 or raw in a binary frame (PROTOCOL.md §11.12).
 */
export type ProcessNotification =
  | { readonly method: "process/output"; readonly params: OutputFacts; readonly data: Uint8Array }
  | { readonly method: "process/exited"; readonly params: ProcessExitedParams }
  | { readonly method: "process/closed"; readonly params: ProcessClosedParams };

/**
 * Validates a notification by the schema of its method; null for another method or bad params.
 * `payload` is the raw bytes of a binary frame, whose params carry `byteLength` instead of `chunk`.
 */
export function parseNotification(
  method: string,
  params: unknown,
  payload?: Uint8Array,
): ProcessNotification | null {
  switch (method) {
    case "process/output":
      return payload === undefined ? textOutput(params) : frameOutput(params, payload);
    case "process/exited": {
      const parsed = ProcessExitedParamsSchema.safeParse(params);
      return parsed.success ? { method, params: parsed.data } : null;
    }
    case "process/closed": {
      const parsed = ProcessClosedParamsSchema.safeParse(params);
      return parsed.success ? { method, params: parsed.data } : null;
    }
    default:
      return null;
  }
}

function textOutput(params: unknown): ProcessNotification | null {
  const parsed = ProcessOutputParamsSchema.safeParse(params);
  if (!parsed.success) return null;
  const { chunk, ...facts } = parsed.data;
  let data: Uint8Array;
  try {
    data = decodeBase64(chunk);
  } catch {
    return null;
  }
  return { method: "process/output", params: facts, data };
}

function frameOutput(params: unknown, payload: Uint8Array): ProcessNotification | null {
  const parsed = ProcessOutputFrameParamsSchema.safeParse(params);
  if (!parsed.success || parsed.data.byteLength !== payload.byteLength) return null;
  const { byteLength: _byteLength, ...facts } = parsed.data;
  return { method: "process/output", params: facts, data: payload };
}
