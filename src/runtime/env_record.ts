/**
 * An empty environment as an object without a prototype. A variable may have any name
 * (PROTOCOL.md §6.2), and on a plain `{}` assigning `__proto__` sets the prototype instead of
 * adding a member; here every name is an own member, and reading a missing one (`constructor`)
 * gives undefined.
 */
export function envRecord(): Record<string, string> {
  return Object.create(null);
}
