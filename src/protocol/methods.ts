import { z } from "zod";
import {
  ProcessIdParamsSchema,
  ProcessListParamsSchema,
  ProcessReadParamsSchema,
  ProcessResizeParamsSchema,
  ProcessSignalParamsSchema,
  ProcessStartParamsSchema,
  ProcessWriteParamsSchema,
} from "./process.ts";
import { InitializeParamsSchema } from "./session.ts";

/** The handshake family a method belongs to, as named in the `must call initialize` messages (§3.1). */
export type MethodFamily = "exec" | "filesystem" | "environment info" | "session";

/** One row of the method table. */
export interface MethodSpec {
  readonly params: z.ZodType;
  readonly family: MethodFamily;
}

/** Every session and process method this server serves; fs rows are added from `FS_PARAMS_SCHEMAS`. */
export const CORE_METHODS = {
  "initialize": { params: InitializeParamsSchema, family: "session" },
  "environment/info": { params: z.unknown(), family: "environment info" },
  "process/start": { params: ProcessStartParamsSchema, family: "exec" },
  "process/read": { params: ProcessReadParamsSchema, family: "exec" },
  "process/write": { params: ProcessWriteParamsSchema, family: "exec" },
  "process/signal": { params: ProcessSignalParamsSchema, family: "exec" },
  "process/terminate": { params: ProcessIdParamsSchema, family: "exec" },
  "process/resize": { params: ProcessResizeParamsSchema, family: "exec" },
  "process/closeStdin": { params: ProcessIdParamsSchema, family: "exec" },
  "process/list": { params: ProcessListParamsSchema, family: "exec" },
} as const satisfies Record<string, MethodSpec>;

/** Extension methods advertised in `environmentInfo.extensions.methods` (§11.1). */
export const EXTENSION_METHODS = ["process/resize", "process/closeStdin", "process/list"] as const;
