/** The sandbox policies tests send: Codex's managed permission profile (PROTOCOL.md §8). */

/**
 * A managed, restricted profile with no network: the minimal system paths and `read` readable,
 * `write` writable, `deny` and `none` denied (as the two wire spellings of a carve-out). Paths go
 * out as given (native paths or file URIs).
 */
export function managedSandbox(
  paths: {
    write?: readonly string[];
    read?: readonly string[];
    deny?: readonly string[];
    none?: readonly string[];
  },
): Record<string, unknown> {
  const entry = (path: string, access: "read" | "write" | "deny" | "none") => ({
    path: { type: "path", path },
    access,
  });
  return {
    permissions: {
      type: "managed",
      file_system: {
        type: "restricted",
        entries: [
          { path: { type: "special", value: { kind: "minimal" } }, access: "read" },
          ...(paths.write ?? []).map((path) => entry(path, "write")),
          ...(paths.read ?? []).map((path) => entry(path, "read")),
          ...(paths.deny ?? []).map((path) => entry(path, "deny")),
          ...(paths.none ?? []).map((path) => entry(path, "none")),
        ],
      },
      network: "restricted",
    },
    windowsSandboxLevel: "disabled",
  };
}
