import { z } from "zod";

/** The `{}` result of every method that answers nothing else: one schema, so one JSON Schema name. */
export const EmptyResultSchema = z.object({});
