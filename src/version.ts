import packageJson from "../package.json" with { type: "json" };

/** This server's version, reported as `executorVersion` and `extensions.version`: package.json's. */
export const VERSION: string = packageJson.version;
