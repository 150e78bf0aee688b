/** This server's version, reported as `executorVersion` and `extensions.version`. */
export const VERSION = "0.1.0";
