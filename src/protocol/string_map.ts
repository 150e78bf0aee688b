import { z } from "zod";

/** A string map as it goes over the wire: a JSON object whose members are all strings. */
export const StringMapWireSchema = z.record(z.string(), z.string());

/**
 * A string map (`env`, `envPolicy.set`) parsed into an object without a prototype that keeps
 * every member. zod's own records leave out a member named `__proto__`, since assigning it on the
 * plain object they build would set that object's prototype; but an environment variable may
 * have any name (PROTOCOL.md §6.2). The issues are the ones `StringMapWireSchema` reports, which
 * is also what the JSON Schema shows (`src/schema`).
 */
export const StringMapSchema = z.custom<Record<string, string>>().transform((input: unknown, ctx) => {
  if (!isPlainObject(input)) {
    ctx.issues.push({ code: "invalid_type", expected: "record", input });
    return z.NEVER;
  }
  const map: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(input)) {
    if (typeof value === "string") map[name] = value;
    else ctx.issues.push({ code: "invalid_type", expected: "string", input: value, path: [name] });
  }
  return map;
});

/** An object literal or JSON object (what zod's records accept), not an array, class instance or null. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
