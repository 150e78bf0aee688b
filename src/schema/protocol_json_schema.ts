/**
 * The JSON Schema document of the wire protocol (`docs/protocol.schema.json`), generated from the
 * zod schemas of `src/protocol` with zod's `z.toJSONSchema`, so it cannot say anything they do not.
 */
import { z } from "zod";
import {
  CLIENT_NOTIFICATIONS,
  EmptyResultSchema,
  EnvironmentInfoSchema,
  EnvPolicySchema,
  ErrorKindSchema,
  ExtensionsSchema,
  FS_PARAMS_SCHEMAS,
  METHODS,
  NOTIFICATIONS,
  ProcessIdParamsSchema,
  RESULT_SCHEMAS,
  SandboxSchema,
  StringMapSchema,
  StringMapWireSchema,
  WireErrorSchema,
} from "../protocol/mod.ts";

/** Where the document is committed, relative to the repository root. */
export const PROTOCOL_SCHEMA_PATH = "docs/protocol.schema.json";

type JsonObject = { [key: string]: unknown };

/**
 * The `sandbox` member as a client sends it: exactly one of the two wire forms. The server's own
 * schema is one object (so errors name the bad member) checked in code; this spells the rule out.
 */
function sandboxDocumentSchema(): z.ZodType {
  const { permissions, sandboxPolicy, ...common } = SandboxSchema.shape;
  return z.xor([
    z.object({ permissions: permissions.unwrap(), ...common }),
    z.object({ sandboxPolicy: sandboxPolicy.unwrap(), ...common }),
  ]);
}

/**
 * The JSON Schema of a part that zod cannot describe itself: a string map is parsed by a custom
 * schema (so that a member named `__proto__` survives) and looks on the wire like
 * `StringMapWireSchema`. Anything else stays an error.
 */
function standIn({ zodSchema }: { zodSchema: z.core.$ZodType }): JsonObject | "throw" {
  if (zodSchema !== StringMapSchema.in) return "throw";
  const { $schema: _dialect, ...body } = z.toJSONSchema(StringMapWireSchema, { io: "input" });
  return body;
}

/** `process/start` → `ProcessStart`, `fs/readFile` → `FsReadFile`. */
function pascalName(method: string): string {
  return method.split("/").map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join("");
}

/** Builds the document; `JSON.stringify` of it is the committed file. */
export function protocolJsonSchema(): JsonObject {
  const registry = z.registry<{ id: string }>();
  const sandbox = sandboxDocumentSchema();
  // Shared parts get their own names first; a schema keeps the first name it is given.
  const shared: Array<[string, z.ZodType]> = [
    ["Sandbox", sandbox],
    ["EnvPolicy", EnvPolicySchema],
    ["EnvironmentInfo", EnvironmentInfoSchema],
    ["Extensions", ExtensionsSchema],
    ["ProcessIdParams", ProcessIdParamsSchema],
    ["EmptyResult", EmptyResultSchema],
    ["ErrorKind", ErrorKindSchema],
    ["Error", WireErrorSchema],
  ];
  for (const [id, schema] of shared) registry.add(schema, { id });
  const name = (schema: z.ZodType, fallback: string): string => {
    const existing = registry.get(schema)?.id;
    if (existing !== undefined) return existing;
    registry.add(schema, { id: fallback });
    return fallback;
  };
  const ref = (id: string): JsonObject => ({ $ref: `#/$defs/${id}` });

  const params: Record<string, z.ZodType> = { ...FS_PARAMS_SCHEMAS };
  for (const [method, spec] of Object.entries(METHODS)) params[method] = spec.params;
  const methods: JsonObject = {};
  for (const [method, result] of Object.entries(RESULT_SCHEMAS)) {
    const declared = params[method];
    if (declared === undefined) throw new TypeError(`no params schema for ${method}`);
    const withSandbox = declared instanceof z.ZodObject && "sandbox" in declared.shape
      ? declared.extend({ sandbox: sandbox.nullable().optional() })
      : declared;
    methods[method] = {
      params: ref(name(withSandbox, `${pascalName(method)}Params`)),
      result: ref(name(result, `${pascalName(method)}Result`)),
    };
  }
  const notifications: JsonObject = {};
  const directions = [
    ["client", CLIENT_NOTIFICATIONS],
    ["server", NOTIFICATIONS],
  ] as const;
  for (const [from, table] of directions) {
    for (const [method, schema] of Object.entries(table)) {
      notifications[method] = { from, params: ref(name(schema, `${pascalName(method)}Params`)) };
    }
  }

  const generated = z.toJSONSchema(registry, {
    io: "input",
    uri: (id) => `#/$defs/${id}`,
    unrepresentable: standIn,
  }).schemas;
  const defs: JsonObject = {};
  for (const [id, schema] of Object.entries(generated)) {
    // Each definition lives inside this one document, so it carries neither its own dialect nor id.
    const { $schema: _dialect, $id: _id, ...body } = schema;
    defs[id] = body;
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "exec-server wire protocol",
    description: "Generated from the zod schemas of src/protocol by `npm run schema`; do not edit. " +
      "`methods` maps each request to its params and result, `notifications` each notification to " +
      "its sender and params, `$defs` holds them all. docs/protocol.md says what every member means.",
    methods,
    notifications,
    $defs: defs,
  };
}

/** The committed file's exact text. */
export function protocolJsonSchemaText(): string {
  return JSON.stringify(protocolJsonSchema(), null, 2) + "\n";
}
