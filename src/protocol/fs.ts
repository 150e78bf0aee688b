import { z } from "zod";
import { EmptyResultSchema } from "./empty_result.ts";
import { SandboxParamSchema } from "./sandbox_param.ts";

const int = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** A `PathUri` (PROTOCOL.md §9); the fs service parses it so errors name the member. */
const pathUri = z.string();
const empty = EmptyResultSchema;

/** `fs/readFile` params (PROTOCOL.md §7.3). */
export const FsReadFileParamsSchema = z.object({
  path: pathUri,
  sandbox: SandboxParamSchema,
  /** Refuse files larger than this many bytes (extension). */
  maxBytes: int.nullish(),
});
/** See `FsReadFileParamsSchema`. */
export type FsReadFileParams = z.infer<typeof FsReadFileParamsSchema>;

/** `fs/readFile` result. */
export const FsReadFileResultSchema = z.object({
  /** The whole file. */
  dataBase64: z.string(),
});
/** See `FsReadFileResultSchema`. */
export type FsReadFileResult = z.infer<typeof FsReadFileResultSchema>;

/** `fs/writeFile` params (§7.4). */
export const FsWriteFileParamsSchema = z.object({
  path: pathUri,
  /** The new content; invalid base64 is -32600. */
  dataBase64: z.string(),
  sandbox: SandboxParamSchema,
});
/** See `FsWriteFileParamsSchema`. */
export type FsWriteFileParams = z.infer<typeof FsWriteFileParamsSchema>;

/** `fs/createDirectory` params (§7.5). */
export const FsCreateDirectoryParamsSchema = z.object({
  path: pathUri,
  /** Defaults to true (`mkdir -p`). */
  recursive: z.boolean().nullish(),
  sandbox: SandboxParamSchema,
});
/** See `FsCreateDirectoryParamsSchema`. */
export type FsCreateDirectoryParams = z.infer<typeof FsCreateDirectoryParamsSchema>;

/** `fs/getMetadata` params (§7.6). */
export const FsGetMetadataParamsSchema = z.object({ path: pathUri, sandbox: SandboxParamSchema });
/** See `FsGetMetadataParamsSchema`. */
export type FsGetMetadataParams = z.infer<typeof FsGetMetadataParamsSchema>;

/** `fs/getMetadata` result. */
export const FsGetMetadataResultSchema = z.object({
  /** Of the target (symlinks followed). */
  isDirectory: z.boolean(),
  /** Of the target; false for FIFOs, sockets and devices. */
  isFile: z.boolean(),
  /** Whether `path` itself is a symlink. */
  isSymlink: z.boolean(),
  /** Bytes of the target. */
  size: int,
  /** Birth time in ms since the epoch, 0 when the filesystem has none. */
  createdAtMs: int,
  /** mtime in ms since the epoch, truncated. */
  modifiedAtMs: int,
});
/** See `FsGetMetadataResultSchema`. */
export type FsGetMetadataResult = z.infer<typeof FsGetMetadataResultSchema>;

/** `fs/canonicalize` params (§7.7). */
export const FsCanonicalizeParamsSchema = z.object({ path: pathUri, sandbox: SandboxParamSchema });
/** See `FsCanonicalizeParamsSchema`. */
export type FsCanonicalizeParams = z.infer<typeof FsCanonicalizeParamsSchema>;

/** `fs/canonicalize` result. */
export const FsCanonicalizeResultSchema = z.object({
  /** The `realpath` as a `file://` URI. */
  path: z.string(),
});
/** See `FsCanonicalizeResultSchema`. */
export type FsCanonicalizeResult = z.infer<typeof FsCanonicalizeResultSchema>;

/** `fs/readDirectory` params (§7.8). */
export const FsReadDirectoryParamsSchema = z.object({ path: pathUri, sandbox: SandboxParamSchema });
/** See `FsReadDirectoryParamsSchema`. */
export type FsReadDirectoryParams = z.infer<typeof FsReadDirectoryParamsSchema>;

/** One entry of `fs/readDirectory`; a symlink reports its target's type. */
export const FsDirectoryEntrySchema = z.object({
  fileName: z.string(),
  isDirectory: z.boolean(),
  isFile: z.boolean(),
});
/** See `FsDirectoryEntrySchema`. */
export type FsDirectoryEntry = z.infer<typeof FsDirectoryEntrySchema>;

/** `fs/readDirectory` result. */
export const FsReadDirectoryResultSchema = z.object({
  /** Sorted by `fileName` in UTF-16 code-unit order, without `.` and `..`. */
  entries: z.array(FsDirectoryEntrySchema),
});
/** See `FsReadDirectoryResultSchema`. */
export type FsReadDirectoryResult = z.infer<typeof FsReadDirectoryResultSchema>;

/** `fs/walk` options (§7.9); every member is required. */
export const FsWalkOptionsSchema = z.object({
  /** The root's children have depth 0; entries up to this depth are listed. */
  maxDepth: int,
  /** Directories that may be read, the root included. */
  maxDirectories: int,
  /** Entries that may be returned. */
  maxEntries: int,
  /** List and descend symlinks to directories. */
  followDirectorySymlinks: z.boolean(),
  /**
   * List directories whose name starts with a dot without descending them (Codex 0.169 sends
   * `true` when it looks for skills). Optional; `null` is -32602, as in the reference.
   */
  pruneHiddenDirectories: z.boolean().optional(),
});
/** See `FsWalkOptionsSchema`. */
export type FsWalkOptions = z.infer<typeof FsWalkOptionsSchema>;

/** `fs/walk` params. */
export const FsWalkParamsSchema = z.object({
  path: pathUri,
  options: FsWalkOptionsSchema,
  sandbox: SandboxParamSchema,
});
/** See `FsWalkParamsSchema`. */
export type FsWalkParams = z.infer<typeof FsWalkParamsSchema>;

/** One entry of `fs/walk`. */
export const FsWalkEntrySchema = z.object({ path: z.string(), kind: z.enum(["file", "directory"]) });
/** See `FsWalkEntrySchema`. */
export type FsWalkEntry = z.infer<typeof FsWalkEntrySchema>;

/** A directory `fs/walk` could not read. */
export const FsWalkErrorSchema = z.object({ path: z.string(), message: z.string() });
/** See `FsWalkErrorSchema`. */
export type FsWalkError = z.infer<typeof FsWalkErrorSchema>;

/** `fs/walk` result. */
export const FsWalkResultSchema = z.object({
  /** Breadth-first, in `fileName` order within a directory. */
  entries: z.array(FsWalkEntrySchema),
  errors: z.array(FsWalkErrorSchema),
  /** A limit stopped the walk while more remained. */
  truncated: z.boolean(),
});
/** See `FsWalkResultSchema`. */
export type FsWalkResult = z.infer<typeof FsWalkResultSchema>;

/** `fs/remove` params (§7.10). */
export const FsRemoveParamsSchema = z.object({
  path: pathUri,
  /** Defaults to true. */
  recursive: z.boolean().nullish(),
  /** Defaults to true: a missing path is not an error. */
  force: z.boolean().nullish(),
  sandbox: SandboxParamSchema,
});
/** See `FsRemoveParamsSchema`. */
export type FsRemoveParams = z.infer<typeof FsRemoveParamsSchema>;

/** `fs/copy` params (§7.11). */
export const FsCopyParamsSchema = z.object({
  sourcePath: pathUri,
  destinationPath: pathUri,
  /** Required; a directory source needs true. */
  recursive: z.boolean(),
  sandbox: SandboxParamSchema,
});
/** See `FsCopyParamsSchema`. */
export type FsCopyParams = z.infer<typeof FsCopyParamsSchema>;

/** The modes of `fs/open`. */
export const FsOpenModeSchema = z.enum(["read", "replace"]);
/** See `FsOpenModeSchema`. */
export type FsOpenMode = z.infer<typeof FsOpenModeSchema>;

/** `fs/open` params (§7.13). */
export const FsOpenParamsSchema = z.object({
  /** ≤ 32 bytes UTF-8, unique on the connection. */
  handleId: z.string(),
  path: pathUri,
  /** Defaults to "read". */
  mode: FsOpenModeSchema.nullish(),
  sandbox: SandboxParamSchema,
});
/** See `FsOpenParamsSchema`. */
export type FsOpenParams = z.infer<typeof FsOpenParamsSchema>;

/** `fs/open` result. */
export const FsOpenResultSchema = z.object({ handleId: z.string() });
/** See `FsOpenResultSchema`. */
export type FsOpenResult = z.infer<typeof FsOpenResultSchema>;

/** `fs/readBlock` params. */
export const FsReadBlockParamsSchema = z.object({
  handleId: z.string(),
  offset: int,
  /** 1–1,048,576; other values are -32600. */
  len: int,
});
/** See `FsReadBlockParamsSchema`. */
export type FsReadBlockParams = z.infer<typeof FsReadBlockParamsSchema>;

/** `fs/readBlock` result. */
export const FsReadBlockResultSchema = z.object({
  chunk: z.string(),
  /** `offset` plus the bytes returned reaches the file's current size. */
  eof: z.boolean(),
});
/** See `FsReadBlockResultSchema`. */
export type FsReadBlockResult = z.infer<typeof FsReadBlockResultSchema>;

/** `fs/writeBlock` params. */
export const FsWriteBlockParamsSchema = z.object({
  handleId: z.string(),
  offset: int,
  /** 1–1,048,576 bytes once decoded. */
  chunk: z.string(),
});
/** See `FsWriteBlockParamsSchema`. */
export type FsWriteBlockParams = z.infer<typeof FsWriteBlockParamsSchema>;

/** `fs/close` params. */
export const FsCloseParamsSchema = z.object({ handleId: z.string() });
/** See `FsCloseParamsSchema`. */
export type FsCloseParams = z.infer<typeof FsCloseParamsSchema>;

/** The `{}` result of methods that return nothing. */
export const FsEmptyResultSchema = empty;
/** See `FsEmptyResultSchema`. */
export type FsEmptyResult = z.infer<typeof FsEmptyResultSchema>;

/** Params schema of every fs method (PROTOCOL.md §4.3). */
export const FS_PARAMS_SCHEMAS = {
  "fs/readFile": FsReadFileParamsSchema,
  "fs/writeFile": FsWriteFileParamsSchema,
  "fs/createDirectory": FsCreateDirectoryParamsSchema,
  "fs/getMetadata": FsGetMetadataParamsSchema,
  "fs/canonicalize": FsCanonicalizeParamsSchema,
  "fs/readDirectory": FsReadDirectoryParamsSchema,
  "fs/walk": FsWalkParamsSchema,
  "fs/remove": FsRemoveParamsSchema,
  "fs/copy": FsCopyParamsSchema,
  "fs/open": FsOpenParamsSchema,
  "fs/readBlock": FsReadBlockParamsSchema,
  "fs/writeBlock": FsWriteBlockParamsSchema,
  "fs/close": FsCloseParamsSchema,
} as const satisfies Record<string, z.ZodType>;

/** Result schema of every fs method. */
export const FS_RESULT_SCHEMAS = {
  "fs/readFile": FsReadFileResultSchema,
  "fs/writeFile": FsEmptyResultSchema,
  "fs/createDirectory": FsEmptyResultSchema,
  "fs/getMetadata": FsGetMetadataResultSchema,
  "fs/canonicalize": FsCanonicalizeResultSchema,
  "fs/readDirectory": FsReadDirectoryResultSchema,
  "fs/walk": FsWalkResultSchema,
  "fs/remove": FsEmptyResultSchema,
  "fs/copy": FsEmptyResultSchema,
  "fs/open": FsOpenResultSchema,
  "fs/readBlock": FsReadBlockResultSchema,
  "fs/writeBlock": FsEmptyResultSchema,
  "fs/close": FsEmptyResultSchema,
} as const satisfies Record<keyof typeof FS_PARAMS_SCHEMAS, z.ZodType>;

/** The name of an fs method. */
export type FsMethod = keyof typeof FS_PARAMS_SCHEMAS;

/** Every fs method name, in catalogue order. */
export const FS_METHODS = Object.keys(FS_PARAMS_SCHEMAS) as readonly FsMethod[];
