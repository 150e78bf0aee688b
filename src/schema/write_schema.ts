/**
 * `npm run schema`: writes `docs/protocol.schema.json` from the zod schemas. The test
 * `test/docs/protocol_schema.test.ts` fails while the committed file differs from this output.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PROTOCOL_SCHEMA_PATH, protocolJsonSchemaText } from "./protocol_json_schema.ts";

const root = join(import.meta.dirname ?? ".", "..", "..");
await writeFile(join(root, PROTOCOL_SCHEMA_PATH), protocolJsonSchemaText());
console.log(`wrote ${PROTOCOL_SCHEMA_PATH}`);
