export { PROTOCOL_SCHEMA_PATH, protocolJsonSchema, protocolJsonSchemaText } from "./protocol_json_schema.ts";
