/** Structured JSON logs on stderr (DESIGN.md decision 12); never env values, contents or tokens. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, detail: unknown): void;
}

/** A logger writing one JSON object per line through `write`. */
export function createLogger(write: (line: string) => void, quiet: boolean): Logger {
  return {
    info(message, fields = {}) {
      if (!quiet) {
        write(JSON.stringify({ time: new Date().toISOString(), level: "info", message, ...fields }) + "\n");
      }
    },
    error(message, detail) {
      const text = detail instanceof Error ? (detail.stack ?? detail.message) : describe(detail);
      write(JSON.stringify({ time: new Date().toISOString(), level: "error", message, detail: text }) + "\n");
    },
  };
}

/** A detail that is not an Error: an object with its fields (an exit status, a stderr tail). */
function describe(detail: unknown): string {
  if (typeof detail !== "object" || detail === null) return String(detail);
  try {
    return JSON.stringify(detail);
  } catch {
    // A cycle, or a bigint inside.
    return String(detail);
  }
}
