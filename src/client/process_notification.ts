import {
  ProcessClosedParamsSchema,
  ProcessExitedParamsSchema,
  ProcessOutputParamsSchema,
} from "../protocol/mod.ts";
import type { ProcessClosedParams, ProcessExitedParams, ProcessOutputParams } from "../protocol/mod.ts";

/** A process notification as a backend delivers it, params already validated. */
export type ProcessNotification =
  | { readonly method: "process/output"; readonly params: ProcessOutputParams }
  | { readonly method: "process/exited"; readonly params: ProcessExitedParams }
  | { readonly method: "process/closed"; readonly params: ProcessClosedParams };

/** Validates a notification by the schema of its method; null for another method or bad params. */
export function parseNotification(method: string, params: unknown): ProcessNotification | null {
  switch (method) {
    case "process/output": {
      const parsed = ProcessOutputParamsSchema.safeParse(params);
      return parsed.success ? { method, params: parsed.data } : null;
    }
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
