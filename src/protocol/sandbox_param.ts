import { z } from "zod";

/**
 * The `sandbox` member as the process and fs params accept it. The full schema of both wire forms
 * lives in `sandbox.ts`; this accepts any value so the sandbox resolver reports the precise member.
 */
export const SandboxParamSchema = z.unknown().optional();
