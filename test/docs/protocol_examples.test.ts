import { describe, expect, test } from "bun:test";
import type { z } from "zod";
import {
  CLIENT_NOTIFICATIONS as CLIENT_NOTIFICATION_SCHEMAS,
  FS_PARAMS_SCHEMAS,
  METHODS,
  NOTIFICATIONS,
  RESULT_SCHEMAS,
  SandboxSchema,
  WireErrorSchema,
} from "../../src/protocol/mod.ts";
import { codeBlocks, leadingJson, readDoc } from "./markdown.ts";

const DOC = await readDoc("docs/protocol.md");
const EXAMPLES = codeBlocks(DOC).filter((block) => block.info === "jsonc");

const PARAMS: Record<string, z.ZodType> = { ...FS_PARAMS_SCHEMAS };
for (const [method, spec] of Object.entries(METHODS)) PARAMS[method] = spec.params;
const RESULTS: Record<string, z.ZodType> = RESULT_SCHEMAS;
const SERVER_NOTIFICATIONS: Record<string, z.ZodType> = NOTIFICATIONS;
const CLIENT_NOTIFICATIONS: Record<string, z.ZodType> = CLIENT_NOTIFICATION_SCHEMAS;

type Message = Record<string, unknown>;

/**
 * What is wrong with `value` against `schema`: not parsing, or members the schema does not know
 * (a parse strips them, so the parsed value then differs).
 */
function mismatch(schema: z.ZodType, value: unknown): string | null {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  }
  return JSON.stringify(parsed.data) === JSON.stringify(value)
    ? null
    : `undocumented members in ${JSON.stringify(value)}`;
}

/** The problems of one example block, each with its line number in docs/protocol.md. */
function checkExample(text: string, firstLine: number): string[] {
  const problems: string[] = [];
  const methodOfId = new Map<string, string>();
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    const where = `line ${firstLine + index}`;
    if (line === "" || line.startsWith("//")) return;
    const direction = line[0];
    let message: Message;
    try {
      message = JSON.parse(leadingJson(line.slice(1))) as Message;
    } catch (error) {
      problems.push(`${where}: ${String(error)}`);
      return;
    }
    const method = typeof message["method"] === "string" ? message["method"] : null;
    let problem: string | null = null;
    if (direction === ">" && method !== null && "id" in message) {
      methodOfId.set(JSON.stringify(message["id"]), method);
      const schema = PARAMS[method];
      const params = message["params"] as Message | undefined;
      if (schema !== undefined) {
        problem = schema.safeParse(params).success ? null : `bad params for ${method}`;
      }
      const sandbox = params?.["sandbox"];
      if (problem === null && sandbox !== undefined && sandbox !== null) {
        problem = mismatch(SandboxSchema, sandbox);
      }
    } else if (direction === ">" && method !== null) {
      problem = method in CLIENT_NOTIFICATIONS ? null : `unknown client notification ${method}`;
    } else if (direction === "<" && method !== null) {
      const schema = SERVER_NOTIFICATIONS[method];
      problem = schema === undefined ? `unknown notification ${method}` : mismatch(schema, message["params"]);
    } else if (direction === "<" && "error" in message) {
      problem = mismatch(WireErrorSchema, message["error"]);
    } else if (direction === "<") {
      const requested = methodOfId.get(JSON.stringify(message["id"]));
      const schema = requested === undefined ? undefined : RESULTS[requested];
      problem = schema === undefined ? "a result to no known request" : mismatch(schema, message["result"]);
    } else {
      problem = "a message line starts with > or <";
    }
    if (problem !== null) problems.push(`${where}: ${problem}`);
  });
  return problems;
}

describe("docs/protocol.md", () => {
  test("has worked examples", () => {
    expect(EXAMPLES.length).toBeGreaterThan(5);
  });

  test.each(EXAMPLES.map((block) => [block.heading, block] as const))(
    "example %s matches the wire schemas",
    (_heading, block) => {
      expect(checkExample(block.text, block.line)).toEqual([]);
    },
  );

  test("names every method and notification the server knows", () => {
    const names = [
      ...Object.keys(RESULTS),
      ...Object.keys(SERVER_NOTIFICATIONS),
      ...Object.keys(CLIENT_NOTIFICATIONS),
    ];
    expect(names.filter((name) => !DOC.includes(`\`${name}\``))).toEqual([]);
  });
});
