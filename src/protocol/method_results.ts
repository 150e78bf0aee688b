import type { z } from "zod";
import { METHODS } from "./methods.ts";

export { EmptyResultSchema } from "./empty_result.ts";

/** The result schema of every method this server serves, by name, from the one method table. */
export const RESULT_SCHEMAS: Readonly<Record<string, z.ZodType>> = Object.fromEntries(
  Object.entries(METHODS).map(([method, spec]) => [method, spec.result]),
);
