import { z } from "zod";
import { StringMapSchema } from "./string_map.ts";

/**
 * The most globs `exclude` or `includeOnly` may hold. Every name of the environment is matched
 * against every glob; clients send a few, and thousands of each held the server's loop for
 * seconds to minutes.
 */
export const MAX_ENV_GLOBS = 256;

/** The environment policy of PROTOCOL.md §6.1; when present, all five members are required. */
export const EnvPolicySchema = z.object({
  /** Which of the server's variables to start from. */
  inherit: z.enum(["all", "core", "none"]),
  /** Keep names matching *KEY*, *SECRET*, *TOKEN*. */
  ignoreDefaultExcludes: z.boolean(),
  /** Globs of names to drop. */
  exclude: z.array(z.string()).max(MAX_ENV_GLOBS),
  /** Pairs inserted after the excludes. */
  set: StringMapSchema,
  /** Globs; when non-empty only matching names survive. */
  includeOnly: z.array(z.string()).max(MAX_ENV_GLOBS),
});
/** See `EnvPolicySchema`. */
export type EnvPolicy = z.infer<typeof EnvPolicySchema>;
